# Official config: configs/cityscapes/panoptic-segmentation/swin/maskformer2_swin_small_bs16_90k.yaml
# Official weights: model_final_23efb7.pkl (model 48381916)
_base_ = ["./_base_/cityscapes-panoptic.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_s,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_small_patch4_window7_224.pth")),
)
