# Official config: configs/coco-panoptic/maskformer_panoptic_R50_bs64_554k.yaml
# Official weights: model_final_6f60dc.pkl (model 42747488_1)
_base_ = "./_base_/coco-panoptic.py"
