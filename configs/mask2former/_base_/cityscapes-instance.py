# Mask2Former R50 on Cityscapes instance (`Base-Cityscapes-InstanceSegmentation.yaml`, `maskformer2_R50_bs16_90k.yaml`):
# 8 thing classes, 100 queries, SyncBN ResNet, 512x1024 crop, batch 16, 90k iters poly, AMP; test: instance only.
_base_ = [
    "../../_base_/models/mask2former_r50.py", "../../_base_/datasets/cityscapes_instance.py",
    "../../_base_/schedules/schedule_poly_90k.py", "../../_base_/default_runtime.py",
]
num_classes = 8
model = dict(
    num_classes=num_classes,
    backbone=dict(norm="SyncBN", init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")),
    postprocessor=dict(semantic_on=False, instance_on=True, panoptic_on=False),
)
optim_wrapper = dict(type="MixedPrecisionOptimWrapper")
