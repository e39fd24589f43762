# The MaskFormer twin of the quick start: same backbone, data, optimizer and speed settings, batch 2 x 4
# and 1000 iterations with a poly schedule (the previous quick-start schedule); FPN pixel decoder, DETR decoder on res5, focal + dice losses on full
# 1/4-resolution masks, MaskFormer panoptic post-processing.
# `CONFIG=<this file> bash tools/quickstart.sh work_dirs/quickstart_maskformer`.
_base_ = ["./mask2former_r18-tiny_2xb2-570s_toy-panoptic.py"]
max_iters = 1000
# MaskFormer's matching and mask losses (configs/_base_/models/maskformer_r50.py): whole masks, focal + dice
num_points = None
class_weight = 1.0
mask_weight = 20.0
dice_weight = 1.0
model = dict(
    backbone=dict(out_features=["res2", "res3", "res4", "res5"]),  # its DETR decoder reads res5
    auxiliary_head=None,  # not in the numbers documented for the twin
    pixel_decoder=dict(_delete_=True, type="FPNPixelDecoder", conv_dim=64, mask_dim=64, norm="GN"),
    transformer_decoder=dict(_delete_=True, type="StandardTransformerDecoder", in_feature="res5",
                             hidden_dim=128, num_queries=30, nheads=4, dropout=0.1, dim_feedforward=512,
                             dec_layers=6),
    criterion=dict(
        _delete_=True,
        type="SetCriterion",
        matcher=dict(type="HungarianMatcher", num_points=num_points, costs=[
            dict(type="ClassCost", weight=class_weight), dict(type="MaskFocalCost", weight=mask_weight),
            dict(type="DiceCost", weight=dice_weight)]),
        # class loss x2.5 of the official weight (the Mask2Former quick start's first setting)
        class_loss=dict(type="CrossEntropyLoss", loss_weight=2.5, no_object_weight=0.1),
        mask_losses=[dict(type="MaskFocalLoss", loss_weight=mask_weight),
                     dict(type="DiceLoss", loss_weight=dice_weight)],
        num_points=num_points,
    ),
    # the test settings its numbers in docs/quickstart.md were measured with (not re-tuned for MaskFormer)
    postprocessor=dict(panoptic_intersect_mask=False, overlap_threshold=0.8),
)
param_scheduler = [
    dict(type="WarmupPolyLR", max_iters=max_iters, power=0.9, warmup_iters=50, warmup_factor=0.01, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
custom_hooks = []  # a fixed 1000 iterations (the poly decay spans the whole run: no time budget)
train_dataloader = dict(batch_size=4)
default_hooks = dict(checkpoint=dict(interval=400))
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="ResizeShortestEdge", short_edge_length=128, max_size=512),
    dict(type="LoadSegAnnotations"),
    dict(type="PackSegInputs"),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
