# Official config: configs/ade20k/panoptic-segmentation/maskformer2_R50_bs16_160k.yaml
# Official weights: model_final_5c90d4.pkl (model 48243028_0)
_base_ = "./_base_/ade20k-panoptic.py"
