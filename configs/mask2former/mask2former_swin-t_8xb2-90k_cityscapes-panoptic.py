# Official config: configs/cityscapes/panoptic-segmentation/swin/maskformer2_swin_tiny_bs16_90k.yaml
# Official weights: model_final_ceba0f.pkl (model 48333144_2)
_base_ = ["./_base_/cityscapes-panoptic.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_t,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_tiny_patch4_window7_224.pth")),
)
