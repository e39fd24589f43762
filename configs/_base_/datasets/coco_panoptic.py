# COCO panoptic (133 classes; 80 things + 53 stuff), Mask2Former `Base-COCO-PanopticSegmentation.yaml`
# (`coco_panoptic_lsj` mapper): flip, large-scale jitter ResizeScale(0.1, 2.0) of 1024x1024,
# FixedSizeCrop 1024x1024 padded with 128 / 255 / void. Like the official mapper, masks of
# segments cropped away are kept (drop_empty=False). Test: short side 800, long side <= 1333.
dataset_type = 'CocoPanopticDataset'
data_root = 'data/coco/'
image_size = (1024, 1024)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegAnnotations', with_sem_seg=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='ResizeScale', min_scale=0.1, max_scale=2.0, target_size=image_size),
    dict(type='FixedSizeCrop', crop_size=image_size, pad_value=128, seg_pad_value=255),
    dict(type='PackSegInputs', drop_empty=False),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeShortestEdge', short_edge_length=800, max_size=1333),
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
        ann_file='annotations/panoptic_train2017.json',
        data_prefix=dict(img_path='train2017/', pan_seg_path='panoptic_train2017/'),
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
        ann_file='annotations/panoptic_val2017.json',
        data_prefix=dict(img_path='val2017/', pan_seg_path='panoptic_val2017/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# Official: COCOPanopticEvaluator (PQ) + COCOEvaluator (mask AP, against the instance annotations)
# + SemSegEvaluator (mIoU). MaskFormer (v1) predicts no instances: its configs drop the AP metric.
val_evaluator = [
    dict(type='PanopticMetric'),
    dict(type='SemSegMetric'),
    dict(type='CocoInstanceMetric', ann_file=data_root + 'annotations/instances_val2017.json'),
]
test_evaluator = val_evaluator
