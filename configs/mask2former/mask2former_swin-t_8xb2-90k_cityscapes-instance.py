# Official config: configs/cityscapes/instance-segmentation/swin/maskformer2_swin_tiny_bs16_90k.yaml
# Official weights: model_final_6a63f8.pkl (model 48333144_4)
_base_ = ["./_base_/cityscapes-instance.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_t,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_tiny_patch4_window7_224.pth")),
)
