# Mask2Former R50 on Mapillary Vistas panoptic (`Base-MapillaryVistas-PanopticSegmentation.yaml`,
# `maskformer_R50_bs16_300k.yaml`): 65 classes (37 things; ignore 65), 100 queries, 1024x1024 crop,
# batch 16, 300k iters poly, AMP; test: semantic + panoptic (no instance), object_mask_threshold 0.0,
# overlap 0.8.
_base_ = [
    "../../_base_/models/mask2former_r50.py", "../../_base_/datasets/mapillary_panoptic.py",
    "../../_base_/schedules/schedule_poly_300k.py", "../../_base_/default_runtime.py",
]
num_classes = 65
model = dict(
    backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")),
    num_classes=num_classes,
    postprocessor=dict(semantic_on=True, instance_on=False, panoptic_on=True, object_mask_threshold=0.0),
)
optim_wrapper = dict(type="MixedPrecisionOptimWrapper")
