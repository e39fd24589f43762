# Mask2Former R50 on COCO panoptic (`Base-COCO-PanopticSegmentation.yaml`, `maskformer2_R50_bs16_50ep.yaml`):
# 133 classes (80 things), 100 queries, LSJ 1024x1024, batch 16 (8 GPUs x 2), 50 epochs = 368,750 iters,
# AMP; test: semantic + instance + panoptic, object_mask_threshold 0.8, overlap 0.8, top-100 instances.
_base_ = [
    "../../_base_/models/mask2former_r50.py", "../../_base_/datasets/coco_panoptic.py",
    "../../_base_/schedules/schedule_multistep_368750.py", "../../_base_/default_runtime.py",
]
num_classes = 133
model = dict(
    backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")),
    num_classes=num_classes,
    postprocessor=dict(semantic_on=True, instance_on=True, panoptic_on=True),
)
optim_wrapper = dict(type="MixedPrecisionOptimWrapper")  # SOLVER.AMP.ENABLED
