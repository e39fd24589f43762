# Official config: configs/mapillary-vistas-65/maskformer_R50_bs16_300k.yaml
# Official weights: model_final_f3fc73.pkl (model 42325118)
_base_ = "./_base_/mapillary-1280x1280.py"
