# Official config: configs/cityscapes/panoptic-segmentation/swin/maskformer2_swin_base_IN21k_384_bs16_90k.yaml
# Official weights: model_final_fa840f.pkl (model 48333157_2)
_base_ = ["./_base_/cityscapes-panoptic.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_b,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_base_patch4_window12_384_22k.pth")),
)
