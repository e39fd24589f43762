# ADE20K panoptic (150 classes; 100 things), Mask2Former `Base-ADE20K-PanopticSegmentation.yaml`
# with the files of datasets/prepare_ade20k_pan_seg.py: short side in {320, ..., 1280} ("choice"),
# long side <= 2560, 640x640 crop, SSD colour jitter, flip, pad to 640 with 128 / ignore / void.
# Like the official mapper, masks of segments cropped away are kept (drop_empty=False).
dataset_type = 'ADE20KPanopticDataset'
data_root = 'data/ADEChallengeData2016/'
crop_size = (640, 640)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegAnnotations'),
    dict(type='ResizeShortestEdge',
         short_edge_length=[320, 384, 448, 512, 576, 640, 704, 768, 832, 896, 960, 1024, 1088, 1152, 1216, 1280],
         max_size=2560, sample_style='choice'),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', single_category_max_area=1.0,
         ignore_index=255),
    dict(type='ColorAugSSD'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size_divisor=640, pad_value=128, seg_pad_value=255),
    dict(type='PackSegInputs', drop_empty=False),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeShortestEdge', short_edge_length=640, max_size=2560),
    dict(type='LoadSegAnnotations'),
    dict(type='PackSegInputs'),
]

train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ade20k_panoptic_train.json',
        data_prefix=dict(img_path='images/training', pan_seg_path='ade20k_panoptic_train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ade20k_panoptic_val.json',
        data_prefix=dict(img_path='images/validation', pan_seg_path='ade20k_panoptic_val'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# Official: COCOPanopticEvaluator (PQ) + InstanceSegEvaluator (mask AP, against
# `ade20k_instance_val.json`) + SemSegEvaluator (mIoU). MaskFormer (v1) predicts no instances:
# its configs drop the AP metric.
val_evaluator = [
    dict(type='PanopticMetric'),
    dict(type='SemSegMetric'),
    dict(type='CocoInstanceMetric', ann_file=data_root + 'ade20k_instance_val.json'),
]
test_evaluator = val_evaluator
