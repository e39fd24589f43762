# Official config: configs/ade20k/semantic-segmentation/maskformer2_R50_bs16_160k.yaml
# Official weights: model_final_500878.pkl (model 47429167_5)
_base_ = "./_base_/ade20k-512x512.py"
