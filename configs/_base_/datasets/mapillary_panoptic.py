# Mapillary Vistas v1.2 panoptic (65 classes; 37 things; ignore index 65), Mask2Former
# `Base-MapillaryVistas-PanopticSegmentation.yaml` (`mask_former_panoptic` mapper): the semantic
# recipe (short side {1024, ..., 4096} "choice", long side <= 8192, 1024x1024 crop, SSD colour jitter,
# flip, pad to 1024 with 128 / 65 / void); masks of segments cropped away are kept (drop_empty=False).
# Test: short side 2048, long side <= 2048. 10 workers.
custom_imports = dict(imports=['segformers.data.datasets.mapillary'], allow_failed_imports=False)
dataset_type = 'MapillaryPanopticDataset'
data_root = 'data/mapillary_vistas/'
crop_size = (1024, 1024)
ignore_index = 65

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegAnnotations'),
    dict(type='ResizeShortestEdge',
         short_edge_length=[1024, 1228, 1433, 1638, 1843, 2048, 2252, 2457, 2662, 2867, 3072, 3276, 3481, 3686,
                            3891, 4096],
         max_size=8192, sample_style='choice'),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', single_category_max_area=1.0,
         ignore_index=ignore_index),
    dict(type='ColorAugSSD'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size_divisor=1024, pad_value=128, seg_pad_value=ignore_index),
    dict(type='PackSegInputs', drop_empty=False),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeShortestEdge', short_edge_length=2048, max_size=2048),
    dict(type='LoadSegAnnotations'),
    dict(type='PackSegInputs'),
]

train_dataloader = dict(
    batch_size=2,
    num_workers=10,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='training/panoptic/panoptic_2018.json',
        data_prefix=dict(img_path='training/images', pan_seg_path='training/panoptic'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=10,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='validation/panoptic/panoptic_2018.json',
        data_prefix=dict(img_path='validation/images', pan_seg_path='validation/panoptic'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# Official (TEST flags semantic + panoptic): COCOPanopticEvaluator (PQ) + SemSegEvaluator (mIoU).
val_evaluator = [
    dict(type='PanopticMetric'),
    dict(type='SemSegMetric', ignore_index=ignore_index),
]
test_evaluator = val_evaluator
