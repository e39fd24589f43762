# Mask2Former R50 on COCO instance (`Base-COCO-InstanceSegmentation.yaml`, `maskformer2_R50_bs16_50ep.yaml`):
# 80 classes, 100 queries, LSJ 1024x1024, batch 16, 50 epochs = 368,750 iters, AMP; test: instance only.
_base_ = [
    "../../_base_/models/mask2former_r50.py", "../../_base_/datasets/coco_instance.py",
    "../../_base_/schedules/schedule_multistep_368750.py", "../../_base_/default_runtime.py",
]
num_classes = 80
model = dict(
    backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")),
    num_classes=num_classes,
    postprocessor=dict(semantic_on=False, instance_on=True, panoptic_on=False),
)
optim_wrapper = dict(type="MixedPrecisionOptimWrapper")
