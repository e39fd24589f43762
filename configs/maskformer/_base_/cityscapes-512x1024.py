# MaskFormer R101 on Cityscapes-19 (`Base-Cityscapes-19.yaml`, `maskformer_R101_bs16_90k.yaml`; the zoo has no
# R50): 19 classes, FrozenBN ResNet, 512x1024 crop, batch 16, 90k iters poly, AdamW lr 1e-4, weight decay 1e-4.
_base_ = [
    "../../_base_/models/maskformer_r50.py", "../../_base_/datasets/cityscapes_semantic.py",
    "../../_base_/schedules/schedule_poly_90k.py", "../../_base_/default_runtime.py",
]
num_classes = 19
model = dict(
    num_classes=num_classes,
    backbone=dict(depth=101, init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-101.pkl")),
)
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
