# MaskFormer COCO panoptic schedule (~300 epochs at batch 64): 554,400 iterations, lr x0.1 at 369,600
# (2/3 of training), detectron2 WarmupMultiStepLR with a 10-iteration linear warm-up of factor 1.0 (a no-op).
_base_ = "./adamw_mask2former.py"

max_iters = 554400
param_scheduler = [
    dict(type="WarmupMultiStepLR", milestones=[369600], gamma=0.1, warmup_iters=10, warmup_factor=1.0,
         by_epoch=False, end=max_iters)
]
train_cfg = dict(type="ResumableIterBasedTrainLoop", max_iters=max_iters, val_interval=5000)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
