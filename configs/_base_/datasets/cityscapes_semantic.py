# Cityscapes semantic (19 classes), Mask2Former `Base-Cityscapes-SemanticSegmentation.yaml`:
# short side in {int(0.1 * x * 1024), x = 5..20} ("choice"), long side <= 4096, 512x1024 crop,
# SSD colour jitter, flip, no mapper padding (SIZE_DIVISIBILITY -1). labelIds are mapped to
# trainIds on reading. Test: short side 1024, long side <= 2048 (the full 1024x2048 image).
dataset_type = 'CityscapesDataset'
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
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeShortestEdge', short_edge_length=1024, max_size=2048),
    dict(type='LoadSegAnnotations'),
    dict(type='PackSegInputs'),
]

# Multi-scale + flip test (`tools/test.py CONFIG CKPT --tta`), the official `TEST.AUG`: short side
# 0.5-1.75 x 1024, long side <= 4096, each view also flipped; the views' semantic scores are averaged
# (segformers.models.tta).
tta_model = dict(type='SemanticTTAModel')
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='ResizeShortestEdge', short_edge_length=s, max_size=4096)
         for s in (512, 768, 1024, 1280, 1536, 1792)],
        [dict(type='RandomFlip', prob=0.0), dict(type='RandomFlip', prob=1.0)],
        [dict(type='LoadSegAnnotations')],
        [dict(type='PackSegInputs')],
    ]),
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
# Official: CityscapesSemSegEvaluator (cityscapesscripts IoU / iIoU).
val_evaluator = dict(type='CityscapesSemSegMetric', gt_dir=data_root + 'gtFine/val')
test_evaluator = val_evaluator
