# Official config: configs/cityscapes/panoptic-segmentation/maskformer2_R50_bs16_90k.yaml
# Official weights: model_final_4ab90c.pkl (model 48267400_0)
_base_ = "./_base_/cityscapes-panoptic.py"
model = dict(backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")))
