# Mapillary Vistas v1.2 semantic (65 classes; ignore index 65 = "Unlabeled"), Mask2Former
# `Base-MapillaryVistas-SemanticSegmentation.yaml`: short side in {int(0.1 * x * 2048), x = 5..20}
# ("choice"), long side <= 8192, 1024x1024 crop, SSD colour jitter, flip, pad to 1024 with 128 / 65.
# Test: short side 2048, long side <= 2048. 10 workers.
custom_imports = dict(imports=['segformers.data.datasets.mapillary'], allow_failed_imports=False)
dataset_type = 'MapillaryDataset'
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
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeShortestEdge', short_edge_length=2048, max_size=2048),
    dict(type='LoadSegAnnotations'),
    dict(type='PackSegInputs'),
]

# Multi-scale + flip test (`tools/test.py CONFIG CKPT --tta`): the official configs set no `TEST.AUG`; the
# MaskFormer model zoo's Mapillary numbers use scales 0.5, 1.0, 1.5 of the test size (official.md §1.9),
# i.e. short = long side 1024, 2048, 3072, each view also flipped; the views' semantic scores are averaged.
tta_model = dict(type='SemanticTTAModel')
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='ResizeShortestEdge', short_edge_length=s, max_size=s) for s in (1024, 2048, 3072)],
        [dict(type='RandomFlip', prob=0.0), dict(type='RandomFlip', prob=1.0)],
        [dict(type='LoadSegAnnotations')],
        [dict(type='PackSegInputs')],
    ]),
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
        data_prefix=dict(img_path='training/images', seg_map_path='training/labels'),
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
        data_prefix=dict(img_path='validation/images', seg_map_path='validation/labels'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# Official: SemSegEvaluator (mIoU); unlabeled pixels are 65.
val_evaluator = dict(type='SemSegMetric', ignore_index=ignore_index)
test_evaluator = val_evaluator
