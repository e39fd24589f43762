# Mask2Former paper Table XII (a): MaskFormer R50 with MaskFormer's training parameters, on COCO instance.
# The model is MaskFormer's COCO model (TransformerEncoderPixelDecoder with 6 encoder layers, the 6-layer DETR
# decoder reading its 1/32 output, dropout 0.1, zero-initialised query features; official.md §2.8, §3.3-§3.4).
# Table XIIa "MaskFormer" params: AdamW lr 1e-4, weight decay 1e-4, batch 16, 75 epochs (the maintainer: the
# iteration count of the bs64 / 300-epoch config, 554,400), standard scale augmentation with crop (the MaskFormer
# COCO "detr_panoptic" mapper), loss weights class 1 / focal 20 / dice 1 on full masks (no point sampling).
# The meta-architecture is shared, so this MaskFormer predicts instances (postprocessor instance_on).
_base_ = [
    "../../_base_/models/maskformer_r50.py", "../../_base_/datasets/coco_instance.py",
    "../../_base_/schedules/schedule_multistep_554400.py", "../../_base_/default_runtime.py",
]
num_classes = 80
model = dict(
    backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-50.pkl")),
    num_classes=num_classes,
    pixel_decoder=dict(_delete_=True, type="TransformerEncoderPixelDecoder", conv_dim=256, mask_dim=256, norm="GN",
                       transformer_enc_layers=6, transformer_nheads=8, transformer_dim_feedforward=2048,
                       transformer_dropout=0.1),
    transformer_decoder=dict(in_feature="encoder"),
    postprocessor=dict(semantic_on=False, instance_on=True, panoptic_on=False, topk_per_image=100),
)
# DETR-style scale augmentation with crop (as configs/maskformer/_base_/coco-panoptic.py), instance targets.
detr_short_edges = [480, 512, 544, 576, 608, 640, 672, 704, 736, 768, 800]
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadSegAnnotations"),
    dict(type="RandomFlip", prob=0.5),
    dict(type="RandomChoice", prob=[0.5, 0.5], transforms=[
        [dict(type="ResizeShortestEdge", short_edge_length=detr_short_edges, max_size=1333, sample_style="choice")],
        [dict(type="ResizeShortestEdge", short_edge_length=[400, 500, 600], sample_style="choice"),
         dict(type="RandomCrop", crop_size=(384, 600), crop_type="absolute_range"),
         dict(type="ResizeShortestEdge", short_edge_length=detr_short_edges, max_size=1333, sample_style="choice")],
    ]),
    dict(type="PackSegInputs", drop_empty=True),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))  # 8 GPUs x 2 = 16
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
