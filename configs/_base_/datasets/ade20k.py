# ADE20K semantic (150 classes), Mask2Former `Base-ADE20K-SemanticSegmentation.yaml`:
# short side in {int(0.1 * x * 512), x = 5..20} ("choice"), long side <= 2048, 512x512 crop,
# SSD colour jitter, flip, pad to 512 with 128 / 255. Test: short side 512, long side <= 2048.
dataset_type = 'ADE20KDataset'
data_root = 'data/ADEChallengeData2016/'
crop_size = (512, 512)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegAnnotations'),
    dict(type='ResizeShortestEdge',
         short_edge_length=[256, 307, 358, 409, 460, 512, 563, 614, 665, 716, 768, 819, 870, 921, 972, 1024],
         max_size=2048, sample_style='choice'),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', single_category_max_area=1.0,
         ignore_index=255),
    dict(type='ColorAugSSD'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size_divisor=512, pad_value=128, seg_pad_value=255),
    dict(type='PackSegInputs'),
]
# Annotations are read after the resize so targets stay at the original size for evaluation.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeShortestEdge', short_edge_length=512, max_size=2048),
    dict(type='LoadSegAnnotations'),
    dict(type='PackSegInputs'),
]

# Multi-scale + flip test (`tools/test.py CONFIG CKPT --tta`), the official `TEST.AUG`: short side
# 0.5-1.75 x 512, long side <= 3584, each view also flipped; the views' semantic scores are averaged
# (segformers.models.tta).
tta_model = dict(type='SemanticTTAModel')
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='ResizeShortestEdge', short_edge_length=s, max_size=3584) for s in (256, 384, 512, 640, 768, 896)],
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
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        reduce_zero_label=True,
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
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        reduce_zero_label=True,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# Official: SemSegEvaluator (mIoU).
val_evaluator = dict(type='SemSegMetric')
test_evaluator = val_evaluator
