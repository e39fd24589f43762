# MaskFormer R50 on ADE20K-Full (`Base-ADE20KFull-847.yaml`, `maskformer_R50_bs16_200k.yaml`): 847 classes
# (ignore 65535), 512x512 crop, batch 16, 200k iters poly, AdamW lr 1e-4, weight decay 1e-4; test: semantic.
_base_ = [
    "../../_base_/models/maskformer_r50.py", "../../_base_/datasets/ade20k_full.py",
    "../../_base_/schedules/schedule_poly_200k.py", "../../_base_/default_runtime.py",
]
num_classes = 847
model = dict(num_classes=num_classes, backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
