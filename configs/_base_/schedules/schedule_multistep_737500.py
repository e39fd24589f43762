# COCO 100-epoch schedule (Mask2Former Swin-L, batch 16): 737,500 iterations, lr x0.1 at 655,556 and 710,184
# (the same fractions as the 50-epoch schedule), detectron2 WarmupMultiStepLR with a 10-iteration linear
# warm-up of factor 1.0 (a no-op, kept for parity).
_base_ = "./adamw_mask2former.py"

max_iters = 737500
param_scheduler = [
    dict(type="WarmupMultiStepLR", milestones=[655556, 710184], gamma=0.1, warmup_iters=10, warmup_factor=1.0,
         by_epoch=False, end=max_iters)
]
train_cfg = dict(type="ResumableIterBasedTrainLoop", max_iters=max_iters, val_interval=5000)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
