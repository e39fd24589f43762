# Official config: configs/cityscapes/instance-segmentation/maskformer2_R101_bs16_90k.yaml
# Official weights: model_final_c2b8c8.pkl (model 48267400_16)
_base_ = "./_base_/cityscapes-instance.py"
model = dict(backbone=dict(depth=101, init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-101.pkl")))
