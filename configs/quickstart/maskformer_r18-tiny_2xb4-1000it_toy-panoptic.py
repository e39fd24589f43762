# The MaskFormer twin of the quick start: same backbone, data, schedule and speed settings; FPN pixel
# decoder, DETR decoder on res5, focal + dice losses on full 1/4-resolution masks, MaskFormer panoptic
# post-processing. `CONFIG=<this file> bash tools/quickstart.sh work_dirs/quickstart_maskformer`.
_base_ = ["./mask2former_r18-tiny_2xb4-1000it_toy-panoptic.py"]
model = dict(
    pixel_decoder=dict(_delete_=True, type="FPNPixelDecoder", conv_dim=64, mask_dim=64, norm="GN"),
    transformer_decoder=dict(_delete_=True, type="StandardTransformerDecoder", in_feature="res5",
                             hidden_dim=128, num_queries=30, nheads=4, dropout=0.1, dim_feedforward=512,
                             dec_layers=6),
    criterion=dict(
        _delete_=True,
        type="SetCriterion",
        matcher=dict(type="HungarianMatcher", num_points=None, costs=[
            dict(type="ClassCost", weight=1.0), dict(type="MaskFocalCost", weight=20.0),
            dict(type="DiceCost", weight=1.0)]),
        # class loss x2.5 of the official weight, as in the Mask2Former quick start
        class_loss=dict(type="CrossEntropyLoss", loss_weight=2.5, no_object_weight=0.1),
        mask_losses=[dict(type="MaskFocalLoss", loss_weight=20.0), dict(type="DiceLoss", loss_weight=1.0)],
        num_points=None,
    ),
    postprocessor=dict(panoptic_intersect_mask=False),
)
