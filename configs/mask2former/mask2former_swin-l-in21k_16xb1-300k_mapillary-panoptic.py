# Official config: configs/mapillary-vistas/panoptic-segmentation/swin/maskformer2_swin_large_IN21k_384_bs16_300k.yaml
# Official weights: model_final_132c71.pkl (model 48267065_4)
_base_ = ["./_base_/mapillary-panoptic.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_l,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_large_patch4_window12_384_22k.pth")),
    transformer_decoder=dict(num_queries=200),
)
train_dataloader = dict(batch_size=1)  # 16 GPUs x 1 image
