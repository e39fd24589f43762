# Official config: configs/cityscapes-19/maskformer_R101_bs16_90k.yaml
# Official weights: model_final_38c00c.pkl (model 41127351_1)
_base_ = "./_base_/cityscapes-512x1024.py"
