# Toy semantic segmentation (8 classes: 4 textured stuff + 4 shapes) in the ADE20K layout written
# by `python tools/make_toy_dataset.py data/toy`. The ADE20K recipe scaled from 512 to 128:
# short side in {int(0.1 * x * 128), x = 5..20} ("choice"), long side <= 512, 128x128 crop,
# SSD colour jitter, flip, pad to 128 with 128 / 255.
dataset_type = 'CustomSemanticDataset'
data_root = 'data/toy/'
crop_size = (128, 128)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegAnnotations'),
    dict(type='ResizeShortestEdge',
         short_edge_length=[64, 76, 89, 102, 115, 128, 140, 153, 166, 179, 192, 204, 217, 230, 243, 256],
         max_size=512, sample_style='choice'),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', single_category_max_area=1.0,
         ignore_index=255),
    dict(type='ColorAugSSD'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size_divisor=128, pad_value=128, seg_pad_value=255),
    dict(type='PackSegInputs'),
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
        metainfo_file='metainfo.json',
        data_prefix=dict(img_path='ade/images/training', seg_map_path='ade/annotations/training'),
        reduce_zero_label=True,
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
        metainfo_file='metainfo.json',
        data_prefix=dict(img_path='ade/images/validation', seg_map_path='ade/annotations/validation'),
        reduce_zero_label=True,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
