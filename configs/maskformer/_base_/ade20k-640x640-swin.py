# MaskFormer Swin-B/L on ADE20K-150 at 640 (`swin/maskformer_swin_*_IN21k_384_bs16_160k_res640.yaml`):
# 640x640 crop, the Swin solver (AdamW lr 6e-5, weight decay 0.01, backbone lr x1.0, warm-up 1500 iters
# from 1e-6, then poly over 160k iters).
_base_ = [
    "../../_base_/models/maskformer_r50.py", "../../_base_/datasets/ade20k_640.py",
    "../../_base_/schedules/schedule_poly_160k.py", "../../_base_/default_runtime.py",
]
optim_wrapper = dict(optimizer=dict(lr=6e-5, weight_decay=0.01), paramwise_cfg=dict(backbone_multiplier=1.0))
param_scheduler = [
    dict(type="WarmupPolyLR", max_iters=_base_.max_iters, power=0.9, warmup_iters=1500, warmup_factor=1e-6,
         by_epoch=False)
]
