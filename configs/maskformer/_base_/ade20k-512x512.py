# MaskFormer R50 on ADE20K-150 (`Base-ADE20K-150.yaml`, `maskformer_R50_bs16_160k.yaml`): FPN pixel decoder,
# 6-layer decoder on res5, 100 queries, 512x512 crop, batch 16, 160k iters poly, AdamW lr 1e-4,
# weight decay 1e-4, backbone lr x0.1, no AMP; test: semantic.
_base_ = [
    "../../_base_/models/maskformer_r50.py", "../../_base_/datasets/ade20k.py",
    "../../_base_/schedules/schedule_poly_160k.py", "../../_base_/default_runtime.py",
]
model = dict(backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
