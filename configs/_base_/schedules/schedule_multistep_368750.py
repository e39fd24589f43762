# COCO schedule (~50 epochs at batch 16): 368,750 iterations, lr x0.1 at 327,778 and 355,092,
# detectron2 WarmupMultiStepLR with a 10-iteration linear warm-up of factor 1.0 (a no-op, kept for parity).
# Swin-L (100 epochs): schedule_multistep_737500.py.
_base_ = "./adamw_mask2former.py"

max_iters = 368750
param_scheduler = [
    dict(type="WarmupMultiStepLR", milestones=[327778, 355092], gamma=0.1, warmup_iters=10, warmup_factor=1.0,
         by_epoch=False, end=max_iters)
]
train_cfg = dict(type="ResumableIterBasedTrainLoop", max_iters=max_iters, val_interval=5000)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
