# MaskFormer, ResNet-50, semantic (official.md §2.8, §3.3-§3.4, §3.6-§3.7). ADE20K classes by default.
num_classes = 150
# One knob per concept: the matcher's costs and the criterion's losses read the same weights; MaskFormer
# compares and supervises whole masks (no point sampling).
num_points = None
class_weight = 1.0
mask_weight = 20.0  # focal
dice_weight = 1.0
model = dict(
    type="MaskFormer",
    num_classes=num_classes,
    data_preprocessor=dict(
        type="SegDataPreprocessor",
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        size_divisor=32,
    ),
    backbone=dict(
        type="ResNet",
        depth=50,
        norm="FrozenBN",
        freeze_at=0,
        stem_type="basic",
        out_features=["res2", "res3", "res4", "res5"],
    ),
    pixel_decoder=dict(
        type="FPNPixelDecoder",
        conv_dim=256,
        mask_dim=256,
        norm="GN",
    ),
    transformer_decoder=dict(
        type="StandardTransformerDecoder",
        in_feature="res5",
        hidden_dim=256,
        num_queries=100,
        nheads=8,
        dropout=0.1,
        dim_feedforward=2048,
        dec_layers=6,
        pre_norm=False,
        enforce_input_project=False,
    ),
    criterion=dict(
        type="SetCriterion",
        matcher=dict(
            type="HungarianMatcher",
            num_points=num_points,
            costs=[
                dict(type="ClassCost", weight=class_weight),
                dict(type="MaskFocalCost", weight=mask_weight),
                dict(type="DiceCost", weight=dice_weight),
            ],
        ),
        class_loss=dict(type="CrossEntropyLoss", loss_weight=class_weight, no_object_weight=0.1),
        mask_losses=[
            dict(type="MaskFocalLoss", loss_weight=mask_weight),
            dict(type="DiceLoss", loss_weight=dice_weight),
        ],
        num_points=num_points,
        deep_supervision=True,  # the decoders return every layer; this is the one switch
    ),
    postprocessor=dict(
        type="MaskFormerInference",
        semantic_on=True,
        instance_on=False,
        panoptic_on=False,
        object_mask_threshold=0.0,
        overlap_threshold=0.0,
        panoptic_intersect_mask=False,
    ),
)
