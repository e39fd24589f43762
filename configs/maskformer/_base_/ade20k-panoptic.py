# MaskFormer R50 + 6 encoder layers on ADE20K panoptic (`maskformer_panoptic_R50_bs16_720k.yaml`): 150 classes
# (100 things), TransformerEncoderPixelDecoder, decoder reads the encoder output, 640x640 crop, batch 16,
# 720k iters poly, AdamW lr 1e-4, weight decay 1e-4; test: semantic + panoptic (MaskFormer rule),
# object_mask_threshold 0.7, overlap 0.8.
_base_ = [
    "../../_base_/models/maskformer_r50.py", "../../_base_/datasets/ade20k_panoptic.py",
    "../../_base_/schedules/schedule_poly_720k.py", "../../_base_/default_runtime.py",
]
model = dict(
    backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")),
    pixel_decoder=dict(_delete_=True, type="TransformerEncoderPixelDecoder", conv_dim=256, mask_dim=256, norm="GN",
                       transformer_enc_layers=6, transformer_nheads=8, transformer_dim_feedforward=2048,
                       transformer_dropout=0.1),
    transformer_decoder=dict(in_feature="encoder"),
    postprocessor=dict(semantic_on=True, panoptic_on=True, object_mask_threshold=0.7, overlap_threshold=0.8),
)
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
# MaskFormer predicts semantic + panoptic results only (no instances); the official MaskFormer evaluates
# ADE20K panoptic with COCOPanopticEvaluator (PQ) + SemSegEvaluator (mIoU): no mask-AP metric here.
val_evaluator = [dict(type="PanopticMetric"), dict(type="SemSegMetric")]
test_evaluator = val_evaluator
