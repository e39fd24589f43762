# Cityscapes panoptic (19 classes; 8 things), Mask2Former `Base-Cityscapes-PanopticSegmentation.yaml`
# with cityscapesscripts' createPanopticImgs.py files: the semantic recipe (short side
# {512, ..., 2048} "choice", long side <= 4096, 512x1024 crop, SSD colour jitter, flip, no padding);
# masks of segments cropped away are kept like the official mapper (drop_empty=False).
dataset_type = 'CityscapesPanopticDataset'
data_root = 'data/cityscapes/'
crop_size = (512, 1024)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegAnnotations'),
    dict(type='ResizeShortestEdge',
         short_edge_length=[512, 614, 716, 819, 921, 1024, 1126, 1228, 1331, 1433, 1536, 1638, 1740, 1843, 1945, 2048],
         max_size=4096, sample_style='choice'),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', single_category_max_area=1.0,
         ignore_index=255),
    dict(type='ColorAugSSD'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs', drop_empty=False),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeShortestEdge', short_edge_length=1024, max_size=2048),
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
        ann_file='gtFine/cityscapes_panoptic_train.json',
        data_prefix=dict(img_path='leftImg8bit/train', pan_seg_path='gtFine/cityscapes_panoptic_train'),
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
        ann_file='gtFine/cityscapes_panoptic_val.json',
        data_prefix=dict(img_path='leftImg8bit/val', pan_seg_path='gtFine/cityscapes_panoptic_val'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# Official (TEST flags semantic + instance + panoptic): PQ + CityscapesSemSegEvaluator +
# CityscapesInstanceEvaluator.
val_evaluator = [
    dict(type='CityscapesPanopticMetric', gt_json=data_root + 'gtFine/cityscapes_panoptic_val.json',
         gt_folder=data_root + 'gtFine/cityscapes_panoptic_val'),
    dict(type='CityscapesSemSegMetric', gt_dir=data_root + 'gtFine/val'),
    dict(type='CityscapesInstanceMetric', gt_dir=data_root + 'gtFine/val'),
]
test_evaluator = val_evaluator
