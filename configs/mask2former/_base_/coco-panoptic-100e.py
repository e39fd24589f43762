# Mask2Former on COCO panoptic for 100 epochs (Swin-L, `maskformer2_swin_large_IN21k_384_bs16_100ep.yaml`):
# `coco-panoptic.py` with the 100-epoch schedule (737,500 iters, lr x0.1 at 655,556 and 710,184). The
# leaf sets the backbone and its weights.
_base_ = [
    "../../_base_/models/mask2former_r50.py", "../../_base_/datasets/coco_panoptic.py",
    "../../_base_/schedules/schedule_multistep_737500.py", "../../_base_/default_runtime.py",
]
num_classes = 133
model = dict(
    num_classes=num_classes,
    postprocessor=dict(semantic_on=True, instance_on=True, panoptic_on=True),
)
optim_wrapper = dict(type="MixedPrecisionOptimWrapper")  # SOLVER.AMP.ENABLED
