# Official config: configs/cityscapes/semantic-segmentation/swin/maskformer2_swin_large_IN21k_384_bs16_90k.yaml
# Official weights: model_final_17c1ee.pkl (model 48318254_5)
_base_ = ["./_base_/cityscapes-512x1024.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_l,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_large_patch4_window12_384_22k.pth")),
)
train_dataloader = dict(batch_size=1)  # 16 GPUs x 1 image
