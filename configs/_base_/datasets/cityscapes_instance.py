# Cityscapes instance (8 thing classes), Mask2Former `Base-Cityscapes-InstanceSegmentation.yaml`,
# read from the *_gtFine_instanceIds.png files (crowd "group" regions give no mask): short side
# {512, ..., 2048} "choice", long side <= 4096, plain 512x1024 crop, SSD colour jitter, flip.
dataset_type = 'CityscapesInstanceDataset'
data_root = 'data/cityscapes/'
crop_size = (512, 1024)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegAnnotations', with_sem_seg=False),
    dict(type='ResizeShortestEdge',
         short_edge_length=[512, 614, 716, 819, 921, 1024, 1126, 1228, 1331, 1433, 1536, 1638, 1740, 1843, 1945, 2048],
         max_size=4096, sample_style='choice'),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute'),
    dict(type='ColorAugSSD'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs', drop_empty=False),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeShortestEdge', short_edge_length=1024, max_size=2048),
    dict(type='LoadSegAnnotations', with_sem_seg=False),
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
        data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
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
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# Official: CityscapesInstanceEvaluator (cityscapesscripts AP / AP50).
val_evaluator = dict(type='CityscapesInstanceMetric', gt_dir=data_root + 'gtFine/val')
test_evaluator = val_evaluator
