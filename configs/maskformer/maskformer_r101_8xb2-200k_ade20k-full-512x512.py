# Official config: configs/ade20k-full-847/maskformer_R101_bs16_200k.yaml
# Official weights: model_final_88df33.pkl (model 40986946_1)
_base_ = "./_base_/ade20k-full-512x512.py"
model = dict(backbone=dict(depth=101, init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-101.pkl")))
