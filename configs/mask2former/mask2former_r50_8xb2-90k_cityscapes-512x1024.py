# Official config: configs/cityscapes/semantic-segmentation/maskformer2_R50_bs16_90k.yaml
# Official weights: model_final_cc1b1f.pkl (model 48267400_4)
_base_ = "./_base_/cityscapes-512x1024.py"
