# Mask2Former R50 on Mapillary Vistas semantic (`Base-MapillaryVistas-SemanticSegmentation.yaml`,
# `maskformer2_R50_bs16_300k.yaml`): 65 classes (ignore 65), 100 queries, 1024x1024 crop, batch 16,
# 300k iters poly, AMP; test: semantic only, object_mask_threshold 0.0.
_base_ = [
    "../../_base_/models/mask2former_r50.py", "../../_base_/datasets/mapillary_semantic.py",
    "../../_base_/schedules/schedule_poly_300k.py", "../../_base_/default_runtime.py",
]
num_classes = 65
model = dict(
    backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")),
    num_classes=num_classes,
    postprocessor=dict(semantic_on=True, instance_on=False, panoptic_on=False, object_mask_threshold=0.0),
)
optim_wrapper = dict(type="MixedPrecisionOptimWrapper")
