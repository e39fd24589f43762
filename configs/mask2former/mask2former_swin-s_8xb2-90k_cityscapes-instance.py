# Official config: configs/cityscapes/instance-segmentation/swin/maskformer2_swin_small_bs16_90k.yaml
# Official weights: model_final_974824.pkl (model 48333149_4)
_base_ = ["./_base_/cityscapes-instance.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_s,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_small_patch4_window7_224.pth")),
)
