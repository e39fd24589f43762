# MaskFormer R50 on COCO-Stuff-10K (`Base-COCOStuff10K-171.yaml`, `maskformer_R50_bs32_60k.yaml`): 171 classes,
# 640x640 crop, batch 32 (8 GPUs x 4), 60k iters poly, AdamW lr 1e-4, weight decay 1e-4; test: semantic.
_base_ = [
    "../../_base_/models/maskformer_r50.py", "../../_base_/datasets/coco_stuff10k.py",
    "../../_base_/schedules/schedule_poly_60k.py", "../../_base_/default_runtime.py",
]
num_classes = 171
model = dict(num_classes=num_classes, backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
