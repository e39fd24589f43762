# Official config: configs/mapillary-vistas/semantic-segmentation/maskformer2_R50_bs16_300k.yaml
# Official weights: model_final_6c66d0.pkl (model 49189528_1)
_base_ = "./_base_/mapillary-1024x1024.py"
