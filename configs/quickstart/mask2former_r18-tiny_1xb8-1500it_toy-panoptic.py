# Quick start: a small Mask2Former trained from scratch on the toy dataset on a 2-core CPU, evaluated
# for panoptic (PQ), semantic (mIoU) and instance (mask AP) segmentation.
# Data: `python tools/make_toy_dataset.py data/toy` (COCO panoptic layout, 8 classes: 4 stuff + 4 things).
_base_ = [
    "../_base_/models/mask2former_r50.py",
    "../_base_/datasets/toy_panoptic.py",
    "../_base_/schedules/adamw_mask2former.py",
    "../_base_/default_runtime.py",
]
num_classes = 8
width = 128
model = dict(
    num_classes=num_classes,
    backbone=dict(depth=18, norm="BN", stem_out_channels=32, res2_out_channels=32),
    pixel_decoder=dict(conv_dim=width, mask_dim=width, transformer_enc_layers=2, transformer_nheads=4,
                       transformer_dim_feedforward=256),
    transformer_decoder=dict(hidden_dim=width, num_queries=30, nheads=4, dim_feedforward=512, dec_layers=6),
    criterion=dict(matcher=dict(num_points=2048), num_points=2048),
    postprocessor=dict(topk_per_image=100),
)
max_iters = 1500
optim_wrapper = dict(
    optimizer=dict(lr=3e-4, weight_decay=0.05),
    paramwise_cfg=dict(backbone_multiplier=1.0),  # trained from scratch: no pre-trained backbone to protect
    clip_grad=dict(max_norm=1.0, norm_type=2),
)
param_scheduler = [
    dict(type="WarmupPolyLR", max_iters=max_iters, power=0.9, warmup_iters=50, warmup_factor=0.01, by_epoch=False)
]
train_cfg = dict(type="ResumableIterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
train_dataloader = dict(batch_size=8, num_workers=2)
val_dataloader = dict(batch_size=8, num_workers=1)
test_dataloader = val_dataloader
val_evaluator = [
    dict(type="PanopticMetric"),
    dict(type="SemSegMetric"),
    dict(type="CocoInstanceMetric", ann_file="data/toy/coco/annotations/instances_val2017.json"),
]
test_evaluator = val_evaluator
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=500, max_keep_ckpts=2, save_last=True),
)
