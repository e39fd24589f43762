# Official config: configs/cityscapes/semantic-segmentation/swin/maskformer2_swin_tiny_bs16_90k.yaml
# Official weights: model_final_2d58d4.pkl (model 48333144_3)
_base_ = ["./_base_/cityscapes-512x1024.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_t,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_tiny_patch4_window7_224.pth")),
)
