# Official config: configs/coco/instance-segmentation/maskformer2_R101_bs16_50ep.yaml
# Official weights: model_final_eba159.pkl (model 47992113_0)
_base_ = "./_base_/coco-instance.py"
model = dict(backbone=dict(depth=101, init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-101.pkl")))
