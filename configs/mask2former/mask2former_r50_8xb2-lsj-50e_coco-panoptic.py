# Official config: configs/coco/panoptic-segmentation/maskformer2_R50_bs16_50ep.yaml
# Official weights: model_final_94dc52.pkl (model 47430278_4)
_base_ = "./_base_/coco-panoptic.py"
