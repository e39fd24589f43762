# Toy instance segmentation (the 4 shape classes) in the COCO instance layout written by
# `python tools/make_toy_dataset.py data/toy`: polygons, RLE and crowd annotations. The COCO LSJ
# recipe at 128x128 with a milder jitter (ResizeScale 0.5..2.0); images without non-crowd
# instances are skipped in training.
dataset_type = 'CocoInstanceDataset'
data_root = 'data/toy/'
image_size = (128, 128)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='ResizeScale', min_scale=0.5, max_scale=2.0, target_size=image_size),
    dict(type='FixedSizeCrop', crop_size=image_size, pad_value=128, seg_pad_value=255),
    dict(type='PackSegInputs', drop_empty=True),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeShortestEdge', short_edge_length=128, max_size=512),
    dict(type='LoadSegAnnotations'),
    dict(type='PackSegInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='coco/annotations/instances_train2017.json',
        data_prefix=dict(img_path='coco/train2017/'),
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='coco/annotations/instances_val2017.json',
        data_prefix=dict(img_path='coco/val2017/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
