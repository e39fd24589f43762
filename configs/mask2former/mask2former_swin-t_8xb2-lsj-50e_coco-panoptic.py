# Official config: configs/coco/panoptic-segmentation/swin/maskformer2_swin_tiny_bs16_50ep.yaml
# Official weights: model_final_9fd0ae.pkl (model 48558700_1)
_base_ = ["./_base_/coco-panoptic.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_t,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_tiny_patch4_window7_224.pth")),
)
