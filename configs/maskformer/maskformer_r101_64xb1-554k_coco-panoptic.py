# Official config: configs/coco-panoptic/maskformer_panoptic_R101_bs64_554k.yaml
# Official weights: model_final_57b049.pkl (model 42747488_0)
_base_ = "./_base_/coco-panoptic.py"
backbone_checkpoint = "R-101.pkl"
model = dict(backbone=dict(depth=101))
