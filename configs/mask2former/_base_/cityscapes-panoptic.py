# Mask2Former R50 on Cityscapes panoptic (`Base-Cityscapes-PanopticSegmentation.yaml`, `maskformer2_R50_bs16_90k.yaml`):
# 19 classes (trainIds 11..18 are things), 100 queries, SyncBN ResNet, 512x1024 crop, batch 16, 90k iters
# poly, AMP; test: semantic + instance + panoptic, object_mask_threshold 0.8, overlap 0.8.
_base_ = [
    "../../_base_/models/mask2former_r50.py", "../../_base_/datasets/cityscapes_panoptic.py",
    "../../_base_/schedules/schedule_poly_90k.py", "../../_base_/default_runtime.py",
]
num_classes = 19
model = dict(
    num_classes=num_classes,
    backbone=dict(norm="SyncBN"),
    postprocessor=dict(semantic_on=True, instance_on=True, panoptic_on=True),
)
optim_wrapper = dict(type="MixedPrecisionOptimWrapper")
