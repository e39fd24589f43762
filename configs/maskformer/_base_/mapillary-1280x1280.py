# MaskFormer R50 on Mapillary Vistas (`Base-MapillaryVistas-65.yaml`, `maskformer_R50_bs16_300k.yaml`):
# 65 classes (ignore 65), 1280x1280 crop, batch 16, 300k iters poly, AdamW lr 1e-4, weight decay 1e-4.
_base_ = [
    "../../_base_/models/maskformer_r50.py", "../../_base_/datasets/mapillary_semantic_1280.py",
    "../../_base_/schedules/schedule_poly_300k.py", "../../_base_/default_runtime.py",
]
num_classes = 65
model = dict(num_classes=num_classes, backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
