# MaskFormer R50 + 6 encoder layers on ADE20K panoptic (`maskformer_panoptic_R50_bs16_720k.yaml`): 150 classes
# (100 things), TransformerEncoderPixelDecoder, decoder reads the encoder output, 640x640 crop, batch 16,
# 720k iters poly, AdamW lr 1e-4, weight decay 1e-4; test: semantic + panoptic (MaskFormer rule),
# object_mask_threshold 0.7, overlap 0.8.
_base_ = [
    "../../_base_/models/maskformer_r50.py", "../../_base_/datasets/ade20k_panoptic.py",
    "../../_base_/schedules/schedule_poly_720k.py", "../../_base_/default_runtime.py",
]
thing_ids = [
    7, 8, 10, 12, 14, 15, 18, 19, 20, 22, 23, 24, 27, 30, 31, 32, 33, 35, 36, 37, 38, 39, 41, 42, 43, 44, 45, 47,
    49, 50, 53, 55, 56, 57, 58, 62, 64, 65, 66, 67, 69, 70, 71, 72, 73, 74, 75, 76, 78, 80, 81, 82, 83, 85, 86,
    87, 88, 89, 90, 92, 93, 95, 97, 98, 102, 103, 104, 107, 108, 110, 111, 112, 115, 116, 118, 119, 120, 121,
    123, 124, 125, 126, 127, 129, 130, 132, 133, 134, 135, 136, 137, 138, 139, 142, 143, 144, 146, 147, 148, 149,
]
model = dict(
    backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")),
    pixel_decoder=dict(_delete_=True, type="TransformerEncoderPixelDecoder", conv_dim=256, mask_dim=256, norm="GN",
                       transformer_enc_layers=6, transformer_nheads=8, transformer_dim_feedforward=2048,
                       transformer_dropout=0.1),
    transformer_decoder=dict(in_feature="encoder"),
    postprocessor=dict(semantic_on=True, panoptic_on=True, object_mask_threshold=0.7, overlap_threshold=0.8,
                       thing_ids=thing_ids),
)
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
# MaskFormer predicts semantic + panoptic results only (no instances); the official MaskFormer evaluates
# ADE20K panoptic with COCOPanopticEvaluator (PQ) + SemSegEvaluator (mIoU): no mask-AP metric here.
val_evaluator = [dict(type="PanopticMetric"), dict(type="SemSegMetric")]
test_evaluator = val_evaluator
