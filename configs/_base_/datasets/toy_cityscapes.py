# Toy data in the Cityscapes layout (`python tools/make_toy_dataset.py data/toy`), read as
# Cityscapes semantic (19 classes, labelIds -> trainIds; the toy uses road, sidewalk, building,
# vegetation, person, car, truck, bicycle). The Cityscapes recipe scaled from 1024 to 128:
# short side in {int(0.1 * x * 128), x = 5..20} ("choice"), long side <= 512, 128x128 crop,
# SSD colour jitter, flip, no padding. For panoptic / instance, swap in
# CityscapesPanopticDataset (ann_file='cityscapes/gtFine/cityscapes_panoptic_train.json',
# pan_seg_path='cityscapes/gtFine/cityscapes_panoptic_train') or CityscapesInstanceDataset.
dataset_type = 'CityscapesDataset'
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
        data_prefix=dict(img_path='cityscapes/leftImg8bit/train', seg_map_path='cityscapes/gtFine/train'),
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
        data_prefix=dict(img_path='cityscapes/leftImg8bit/val', seg_map_path='cityscapes/gtFine/val'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
