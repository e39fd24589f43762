# Mask2Former R50 on Cityscapes semantic (`Base-Cityscapes-SemanticSegmentation.yaml`, `maskformer2_R50_bs16_90k.yaml`):
# 19 classes, 100 queries, SyncBN ResNet, 512x1024 crop, batch 16, 90k iters poly, AMP; test: semantic only.
_base_ = [
    "../../_base_/models/mask2former_r50.py", "../../_base_/datasets/cityscapes_semantic.py",
    "../../_base_/schedules/schedule_poly_90k.py", "../../_base_/default_runtime.py",
]
num_classes = 19
model = dict(
    num_classes=num_classes,
    backbone=dict(norm="SyncBN", init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")),
    postprocessor=dict(semantic_on=True, instance_on=False, panoptic_on=False),
)
optim_wrapper = dict(type="MixedPrecisionOptimWrapper")
