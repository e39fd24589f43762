# Official config: configs/cityscapes/panoptic-segmentation/maskformer2_R101_bs16_90k.yaml
# Official weights: model_final_04d286.pkl (model 48267400_11)
_base_ = "./_base_/cityscapes-panoptic.py"
model = dict(backbone=dict(depth=101, init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-101.pkl")))
