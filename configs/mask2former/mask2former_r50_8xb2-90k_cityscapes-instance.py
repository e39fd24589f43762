# Official config: configs/cityscapes/instance-segmentation/maskformer2_R50_bs16_90k.yaml
# Official weights: model_final_01a8ed.pkl (model 48267400_8)
_base_ = "./_base_/cityscapes-instance.py"
