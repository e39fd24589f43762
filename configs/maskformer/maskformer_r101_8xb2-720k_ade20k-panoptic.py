# Official config: configs/ade20k-150-panoptic/maskformer_panoptic_R101_bs16_720k.yaml
# Official weights: model_final_0b3cc8.pkl (model 42747444)
_base_ = "./_base_/ade20k-panoptic.py"
model = dict(backbone=dict(depth=101, init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-101.pkl")))
