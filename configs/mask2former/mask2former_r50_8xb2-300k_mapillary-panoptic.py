# Official config: configs/mapillary-vistas/panoptic-segmentation/maskformer_R50_bs16_300k.yaml
# Official weights: model_final_4e9874.pkl (model 49392417_0)
_base_ = "./_base_/mapillary-panoptic.py"
