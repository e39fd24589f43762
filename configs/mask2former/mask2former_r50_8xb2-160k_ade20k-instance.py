# Official config: configs/ade20k/instance-segmentation/maskformer2_R50_bs16_160k.yaml
# Official weights: model_final_67e945.pkl (model 47429167_7)
_base_ = "./_base_/ade20k-instance.py"
