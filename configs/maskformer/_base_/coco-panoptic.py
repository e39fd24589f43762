# MaskFormer R50 + 6 encoder layers on COCO panoptic (`Base-COCO-PanopticSegmentation.yaml`,
# `maskformer_panoptic_R50_bs64_554k.yaml`): 133 classes (80 things), TransformerEncoderPixelDecoder, decoder
# reads the encoder output, no padding to a multiple of 32 (SIZE_DIVISIBILITY 0), batch 64 (64 GPUs x 1),
# 554,400 iters (~300 epochs), lr x0.1 at 369,600, 10-iter warm-up of factor 1.0, AdamW lr 1e-4,
# weight decay 1e-4, no AMP; test: semantic + panoptic (MaskFormer rule), object_mask_threshold 0.8, overlap 0.8.
_base_ = [
    "../../_base_/models/maskformer_r50.py", "../../_base_/datasets/coco_panoptic.py",
    "../../_base_/schedules/schedule_multistep_554400.py", "../../_base_/default_runtime.py",
]
num_classes = 133
model = dict(
    backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")),
    num_classes=num_classes,
    data_preprocessor=dict(size_divisor=1),
    pixel_decoder=dict(_delete_=True, type="TransformerEncoderPixelDecoder", conv_dim=256, mask_dim=256, norm="GN",
                       transformer_enc_layers=6, transformer_nheads=8, transformer_dim_feedforward=2048,
                       transformer_dropout=0.1),
    transformer_decoder=dict(in_feature="encoder"),
    postprocessor=dict(semantic_on=True, panoptic_on=True, object_mask_threshold=0.8, overlap_threshold=0.8),
)
# The `detr_panoptic` mapper (DETR-style): flip, then with p = 0.5 one of two branches:
#   (a) ResizeShortestEdge(480..800 step 32, max 1333, "choice");
#   (b) ResizeShortestEdge([400, 500, 600], "choice"), RandomCrop("absolute_range", (384, 600)),
#       ResizeShortestEdge(480..800 step 32, max 1333, "choice").
# Segments cropped away keep their (empty) masks, as in the official mapper (drop_empty=False).
detr_short_edges = [480, 512, 544, 576, 608, 640, 672, 704, 736, 768, 800]
detr_max_size = 1333  # MAX_SIZE_TRAIN (Swin-L: 1000)
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadSegAnnotations", with_sem_seg=False),
    dict(type="RandomFlip", prob=0.5),
    dict(type="RandomChoice", prob=[0.5, 0.5], transforms=[
        [dict(type="ResizeShortestEdge", short_edge_length=detr_short_edges, max_size=detr_max_size,
              sample_style="choice")],
        [dict(type="ResizeShortestEdge", short_edge_length=[400, 500, 600], sample_style="choice"),
         dict(type="RandomCrop", crop_size=(384, 600), crop_type="absolute_range"),
         dict(type="ResizeShortestEdge", short_edge_length=detr_short_edges, max_size=detr_max_size,
              sample_style="choice")],
    ]),
    dict(type="PackSegInputs", drop_empty=False),
]
train_dataloader = dict(batch_size=1, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
# MaskFormer predicts semantic + panoptic results only (no instances), and the official MaskFormer
# evaluates COCO panoptic with COCOPanopticEvaluator (PQ): no mask-AP metric here.
val_evaluator = [dict(type="PanopticMetric")]
test_evaluator = val_evaluator
