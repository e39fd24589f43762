# Quick start: a small Mask2Former trained from scratch on the toy dataset in under 10 minutes on a 2-core
# CPU, evaluated for panoptic (PQ), semantic (mIoU) and instance (mask AP) segmentation.
# Data: `python tools/make_toy_dataset.py data/toy --num-train 1000 --num-val 300` (COCO panoptic layout, 8 classes:
# 4 stuff + 4 things). Run as `tools/dist_train.sh CONFIG 2`: two processes of one torch thread each
# (batch 2 per process, 4 in all), which uses both cores of a 2-core CPU without OpenMP contention.
# Speed choices (docs/training.md): no dataloader worker (the toy pipeline costs 0.01 s per batch; a
# worker's tensor hand-over costs more), InfiniteSampler (mmengine pauses 2 s at every epoch boundary
# otherwise), fused AdamW, 256 points at 32x32 mask logits, one deformable encoder layer and one round
# of 3 masked-attention decoder layers.
# Length: as many iterations as fit in 570 s of training loop (TimeBudgetHook below; 0.136-0.159 s per
# iteration gave 3500-4100, slower stretches of the same machine ran an earlier version at 0.24-0.27 s).
# For a fixed schedule of max_iters iterations (deterministic per machine): --cfg-options custom_hooks=[]
_base_ = [
    "../_base_/models/mask2former_r50.py",
    "../_base_/datasets/toy_panoptic.py",
    "../_base_/schedules/adamw_mask2former.py",
    "../_base_/default_runtime.py",
]
num_classes = 8
max_iters = 3500  # nominal: the time budget moves the end (and the decay with it)
image_size = (128, 128)
num_points = 256  # per mask, for matching and for the mask losses (mask logits are 32x32)
# res2-res4 (strides 4-16) instead of the official res3-res5 (8-32) for the deformable encoder and the
# masked-attention levels: on 128-pixel images res5 is 4x4 cells and most things are under 32x32
# pixels; res5 is not built (1.6M parameters instead of 3.8M, same time per iteration)
feature_levels = ["res2", "res3", "res4"]
model = dict(
    num_classes=num_classes,
    # stem of three 3x3 convs (detectron2's "deeplab" stem) instead of one 7x7: finer first features for
    # 128-pixel images at little extra cost
    # speed, not the recipe: the backbone in NHWC memory (oneDNN's native layout) and, on a CPU with bf16
    # instructions (AVX-512 BF16 / AMX), under its own bf16 autocast: one process's train step 0.11-0.12 -> 0.10 s
    # there (docs/training.md); "auto" runs float32 on a CPU without them, where bf16 is emulated and ~6x slower
    backbone=dict(depth=18, norm="BN", stem_type="deeplab", stem_out_channels=32, res2_out_channels=32,
                  out_features=feature_levels, channels_last=True, autocast_dtype="auto"),
    pixel_decoder=dict(conv_dim=64, mask_dim=64, in_features=feature_levels, transformer_in_features=feature_levels,
                       transformer_enc_layers=1, transformer_nheads=4, transformer_dim_feedforward=256),
    transformer_decoder=dict(hidden_dim=128, num_queries=30, nheads=4, dim_feedforward=512, dec_layers=3),
    # class loss x5 of the official weight (the class cost stays at class_weight): from scratch, telling the
    # shapes apart is what learns slowest
    criterion=dict(matcher=dict(num_points=num_points), num_points=num_points, class_loss=dict(loss_weight=10.0)),
    # a 9-minute model is less confident than the official 0.8 threshold assumes, and its masks of
    # overlapping things are less exact: a segment keeps its place if 60% (official 80%) of its mask
    # survives the per-pixel merge (docs/quickstart.md: +1.0 PQ on the mean of three seeds)
    # instance output only, not official: Gaussian matrix NMS (SOLOv2, sigma 2) ranks a second mask of the
    # same thing below the first; mask AP +2.5 / +3.0 / +3.2 on the three seeds' checkpoints (docs/quickstart.md)
    postprocessor=dict(topk_per_image=100, object_mask_threshold=0.5, overlap_threshold=0.6,
                       instance_matrix_nms_sigma=2.0),
    # training only: per-pixel cross-entropy on the mask features (a 1x1 classifier); the classes of the
    # things' pixels are learnt far faster. Weight 20 (2, 5, 10 and 40 tried): mean of three seeds mIoU
    # 84.3 against 80.2 at weight 2, PQ and mask AP level; 40 trades AP for mIoU (docs/quickstart.md)
    auxiliary_head=dict(type="PixelClassificationHead", loss_weight=20.0),
)
optim_wrapper = dict(
    optimizer=dict(lr=5e-4, weight_decay=0.05, fused=True),
    # trained from scratch: the backbone (1e-3) learns the shapes faster at a higher rate than the head
    paramwise_cfg=dict(backbone_multiplier=2.0),
    clip_grad=dict(max_norm=1.0, norm_type=2),
)
# warm-up, constant, then a linear decay to 0 over the last 1000 iterations: from scratch and this short,
# the model learns more at the full rate than under the usual poly decay (a 300-iteration warm-up was no
# better over two seeds: docs/quickstart.md). The decay ends at max_iters, so TimeBudgetHook moves it
# to the end that fits in the budget (it keeps its 1000 iterations).
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, end_factor=1.0, begin=0, end=100, by_epoch=False),
    dict(type="LinearLR", start_factor=1.0, end_factor=0.0, begin=max_iters - 1000, end=max_iters, by_epoch=False),
]
train_cfg = dict(type="ResumableIterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters)
# budget for the training loop; start-up and the last checkpoint take about 10 s more, so the training
# step of tools/quickstart.sh stays under 10 minutes (docs/quickstart.md). stop_at_budget: a machine that
# slows down after the end is fixed (about 1000 iterations before it) cuts the decay short instead of
# running past the budget (a clean-clone run without it: 567 s of loop for 560)
custom_hooks = [dict(type="TimeBudgetHook", budget_s=570, stop_at_budget=True)]
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadSegAnnotations"),
    dict(type="RandomFlip", prob=0.5),
    dict(type="ResizeScale", min_scale=0.8, max_scale=1.25, target_size=image_size),  # mild: short schedule
    dict(type="FixedSizeCrop", crop_size=image_size, pad_value=128, seg_pad_value=255),
    dict(type="PackSegInputs"),
]
# batch 2 per process: more, smaller steps learn more from the same images than 2 x 4 did
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        sampler=dict(_delete_=True, type="InfiniteSampler", shuffle=True),
                        dataset=dict(pipeline=train_pipeline))
# tested at 1.125x (144 pixels; training saw scales 0.8-1.25): the small things, three quarters of them,
# come out better; measured on two sets of scenes and three seeds (docs/quickstart.md)
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="ResizeShortestEdge", short_edge_length=144, max_size=576),
    dict(type="LoadSegAnnotations"),
    dict(type="PackSegInputs"),
]
val_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type="PanopticMetric"),
    dict(type="SemSegMetric"),
    dict(type="CocoInstanceMetric", ann_file="data/toy/coco/annotations/instances_val2017.json"),
]
test_evaluator = val_evaluator
env_cfg = dict(num_threads=1)
# speed, not the recipe: the two processes average their gradients in shared memory instead of DDP's gloo
# all-reduce over loopback (the same mean gradient; 300-iteration runs 0.116 against 0.126 s per iteration,
# docs/training.md). CPU processes of one machine only: on GPUs, model_wrapper_cfg.type=MMDistributedDataParallel
model_wrapper_cfg = dict(type="SharedMemoryDataParallel")
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=1000, max_keep_ckpts=2, save_last=True),
)
# class names, thing flags and colours for tools/infer.py (training and testing read them from the data)
metainfo = dict(
    classes=("stripes", "checks", "dots", "grain", "disk", "square", "triangle", "cross"),
    thing_classes=("disk", "square", "triangle", "cross"),
    is_thing=(False, False, False, False, True, True, True, True),
    palette=[[128, 64, 128], [70, 130, 180], [107, 142, 35], [152, 251, 152],
             [220, 20, 60], [0, 0, 142], [250, 170, 30], [119, 11, 32]],
    category_ids=(1, 2, 3, 4, 5, 6, 7, 8),
)
