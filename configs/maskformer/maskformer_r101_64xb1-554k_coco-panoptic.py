# Official config: configs/coco-panoptic/maskformer_panoptic_R101_bs64_554k.yaml
# Official weights: model_final_57b049.pkl (model 42747488_0)
_base_ = "./_base_/coco-panoptic.py"
model = dict(backbone=dict(depth=101, init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-101.pkl")))
