# Official config: configs/cityscapes/semantic-segmentation/maskformer2_R101_bs16_90k.yaml
# Official weights: model_final_257ce8.pkl (model 48267400_13)
_base_ = "./_base_/cityscapes-512x1024.py"
model = dict(backbone=dict(depth=101, init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-101.pkl")))
