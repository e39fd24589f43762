# Official config: configs/ade20k-150/maskformer_R101_bs16_160k.yaml
# Official weights: model_final_1aeb94.pkl (model 40986936_1)
_base_ = "./_base_/ade20k-512x512.py"
model = dict(backbone=dict(depth=101, init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-101.pkl")))
