# Official config: configs/coco/panoptic-segmentation/maskformer2_R101_bs16_50ep.yaml
# Official weights: model_final_b807bd.pkl (model 47992113_1)
_base_ = "./_base_/coco-panoptic.py"
model = dict(backbone=dict(depth=101, init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-101.pkl")))
