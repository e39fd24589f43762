# Mask2Former, ResNet-50 (official.md §2.1, §3.0-§3.2, §3.6-§3.7). COCO panoptic classes by default;
# dataset configs override model.num_classes and the postprocessor flags.
num_classes = 133
# One knob per concept (official TRAIN_NUM_POINTS, CLASS_WEIGHT, MASK_WEIGHT, DICE_WEIGHT): the matcher's costs
# and the criterion's losses read the same values.
num_points = 12544  # points per mask, for matching and for the mask losses
class_weight = 2.0
mask_weight = 5.0
dice_weight = 5.0
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
        type="MSDeformAttnPixelDecoder",
        conv_dim=256,
        mask_dim=256,
        norm="GN",
        transformer_in_features=["res3", "res4", "res5"],
        transformer_enc_layers=6,
        transformer_nheads=8,
        transformer_dim_feedforward=1024,
        transformer_dropout=0.0,
        num_points=4,
        common_stride=4,
    ),
    transformer_decoder=dict(
        type="MultiScaleMaskedTransformerDecoder",
        in_feature="multi_scale",
        hidden_dim=256,
        num_queries=100,
        nheads=8,
        dim_feedforward=2048,
        dec_layers=9,
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
                dict(type="MaskBCECost", weight=mask_weight),
                dict(type="DiceCost", weight=dice_weight),
            ],
        ),
        class_loss=dict(type="CrossEntropyLoss", loss_weight=class_weight, no_object_weight=0.1),
        mask_losses=[
            dict(type="MaskBCELoss", loss_weight=mask_weight),
            dict(type="DiceLoss", loss_weight=dice_weight),
        ],
        num_points=num_points,
        oversample_ratio=3.0,
        importance_sample_ratio=0.75,
        deep_supervision=True,  # the decoders return every layer; this is the one switch
    ),
    postprocessor=dict(
        type="MaskFormerInference",
        semantic_on=True,
        instance_on=True,
        panoptic_on=True,
        object_mask_threshold=0.8,
        overlap_threshold=0.8,
        topk_per_image=100,
        panoptic_intersect_mask=True,
    ),
)
