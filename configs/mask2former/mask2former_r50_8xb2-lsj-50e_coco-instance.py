# Official config: configs/coco/instance-segmentation/maskformer2_R50_bs16_50ep.yaml
# Official weights: model_final_3c8ec9.pkl (model 47430277_2)
_base_ = "./_base_/coco-instance.py"
