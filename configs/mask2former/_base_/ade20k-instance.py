# Mask2Former R50 on ADE20K instance (`Base-ADE20K-InstanceSegmentation.yaml`, `maskformer2_R50_bs16_160k.yaml`):
# 100 thing classes, 100 queries, 640x640 crop, batch 16, 160k iters poly, AMP; test flags as the
# official config (semantic + instance + panoptic on, object_mask_threshold 0.8; every class is a thing).
_base_ = [
    "../../_base_/models/mask2former_r50.py", "../../_base_/datasets/ade20k_instance.py",
    "../../_base_/schedules/schedule_poly_160k.py", "../../_base_/default_runtime.py",
]
num_classes = 100
model = dict(
    backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")),
    num_classes=num_classes,
    postprocessor=dict(semantic_on=True, instance_on=True, panoptic_on=True),
)
optim_wrapper = dict(type="MixedPrecisionOptimWrapper")
