# Official config: configs/mapillary-vistas/semantic-segmentation/swin/maskformer2_swin_large_IN21k_384_bs16_300k.yaml
# Official weights: model_final_90ee2d.pkl (model 49189528_0)
_base_ = ["./_base_/mapillary-1024x1024.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_l,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_large_patch4_window12_384_22k.pth")),
)
train_dataloader = dict(batch_size=1)  # 16 GPUs x 1 image
