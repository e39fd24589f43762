# Official config: configs/coco/panoptic-segmentation/swin/maskformer2_swin_base_384_bs16_50ep.yaml
# Official weights: model_final_9d7f02.pkl (model 48558700_5)
_base_ = ["./_base_/coco-panoptic.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_b,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_base_patch4_window12_384.pth")),
)
