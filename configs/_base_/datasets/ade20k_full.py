# ADE20K-Full semantic (847 classes; 16-bit TIFF labels, ignore index 65535), MaskFormer
# `Base-ADE20KFull-847.yaml`: the ADE20K 512 recipe (short side {256, ..., 1024} "choice", long side
# <= 2048, 512x512 crop, SSD colour jitter, flip, pad to 512 with 128 / 65535).
# Test: short side 512, long side <= 2048.
custom_imports = dict(imports=['segformers.data.datasets.ade20k_full'], allow_failed_imports=False)
dataset_type = 'ADE20KFullDataset'
data_root = 'data/ADE20K_2021_17_01/'
crop_size = (512, 512)
ignore_index = 65535

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegAnnotations'),
    dict(type='ResizeShortestEdge',
         short_edge_length=[256, 307, 358, 409, 460, 512, 563, 614, 665, 716, 768, 819, 870, 921, 972, 1024],
         max_size=2048, sample_style='choice'),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', single_category_max_area=1.0,
         ignore_index=ignore_index),
    dict(type='ColorAugSSD'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size_divisor=512, pad_value=128, seg_pad_value=ignore_index),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeShortestEdge', short_edge_length=512, max_size=2048),
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
        data_prefix=dict(img_path='images_detectron2/training', seg_map_path='annotations_detectron2/training'),
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
        data_prefix=dict(img_path='images_detectron2/validation', seg_map_path='annotations_detectron2/validation'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# Official: SemSegEvaluator (mIoU).
val_evaluator = dict(type='SemSegMetric', ignore_index=ignore_index)
test_evaluator = val_evaluator
