# ADE20K-Full schedule (MaskFormer): 200000 iterations, DeepLab WarmupPolyLR (power 0.9, to 0,
# no warm-up), eval every 5000.
_base_ = "./adamw_mask2former.py"

max_iters = 200000
param_scheduler = [
    dict(type="WarmupPolyLR", max_iters=max_iters, power=0.9, warmup_iters=0, warmup_factor=1.0, by_epoch=False)
]
train_cfg = dict(type="ResumableIterBasedTrainLoop", max_iters=max_iters, val_interval=5000)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
