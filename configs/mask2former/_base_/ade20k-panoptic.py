# Mask2Former R50 on ADE20K panoptic (`Base-ADE20K-PanopticSegmentation.yaml`, `maskformer2_R50_bs16_160k.yaml`):
# 150 classes (100 things), 100 queries, 640x640 crop, batch 16, 160k iters poly, AMP;
# test: semantic + instance + panoptic, object_mask_threshold 0.8, overlap 0.8.
_base_ = [
    "../../_base_/models/mask2former_r50.py", "../../_base_/datasets/ade20k_panoptic.py",
    "../../_base_/schedules/schedule_poly_160k.py", "../../_base_/default_runtime.py",
]
num_classes = 150
# contiguous ids of the 100 ADE20K thing classes (dataset metainfo `is_thing`)
thing_ids = [
    7, 8, 10, 12, 14, 15, 18, 19, 20, 22, 23, 24, 27, 30, 31, 32, 33, 35, 36, 37, 38, 39, 41, 42, 43, 44, 45, 47,
    49, 50, 53, 55, 56, 57, 58, 62, 64, 65, 66, 67, 69, 70, 71, 72, 73, 74, 75, 76, 78, 80, 81, 82, 83, 85, 86,
    87, 88, 89, 90, 92, 93, 95, 97, 98, 102, 103, 104, 107, 108, 110, 111, 112, 115, 116, 118, 119, 120, 121,
    123, 124, 125, 126, 127, 129, 130, 132, 133, 134, 135, 136, 137, 138, 139, 142, 143, 144, 146, 147, 148, 149,
]
model = dict(
    backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")),
    num_classes=num_classes,
    postprocessor=dict(semantic_on=True, instance_on=True, panoptic_on=True, thing_ids=thing_ids),
)
optim_wrapper = dict(type="MixedPrecisionOptimWrapper")
