# Official config: configs/coco/panoptic-segmentation/swin/maskformer2_swin_small_bs16_50ep.yaml
# Official weights: model_final_a407fd.pkl (model 48558700_3)
_base_ = ["./_base_/coco-panoptic.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_s,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_small_patch4_window7_224.pth")),
)
