# Mask2Former R50 on ADE20K semantic (`Base-ADE20K-SemanticSegmentation.yaml`, `maskformer2_R50_bs16_160k.yaml`):
# 150 classes, 100 queries, 512x512 crop, batch 16, 160k iters poly, AMP; test: semantic only.
_base_ = [
    "../../_base_/models/mask2former_r50.py", "../../_base_/datasets/ade20k.py",
    "../../_base_/schedules/schedule_poly_160k.py", "../../_base_/default_runtime.py",
]
num_classes = 150
model = dict(
    backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")),
    num_classes=num_classes,
    postprocessor=dict(semantic_on=True, instance_on=False, panoptic_on=False),
)
optim_wrapper = dict(type="MixedPrecisionOptimWrapper")
