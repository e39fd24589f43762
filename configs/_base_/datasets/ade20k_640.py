# ADE20K semantic at 640 (Swin-B/L `*_res640.yaml`):
# short side in {int(0.1 * x * 640), x = 5..20} ("choice"), long side <= 2560, 640x640 crop,
# SSD colour jitter, flip, pad to 640 with 128 / 255. Test: short side 640, long side <= 2560.
# Data, loaders and evaluator as in ./ade20k.py.
_base_ = './ade20k.py'
crop_size = (640, 640)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegAnnotations'),
    dict(type='ResizeShortestEdge',
         short_edge_length=[320, 384, 448, 512, 576, 640, 704, 768, 832, 896, 960, 1024, 1088, 1152, 1216, 1280],
         max_size=2560, sample_style='choice'),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', single_category_max_area=1.0,
         ignore_index=255),
    dict(type='ColorAugSSD'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size_divisor=640, pad_value=128, seg_pad_value=255),
    dict(type='PackSegInputs'),
]
# Annotations are read after the resize so targets stay at the original size for evaluation.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeShortestEdge', short_edge_length=640, max_size=2560),
    dict(type='LoadSegAnnotations'),
    dict(type='PackSegInputs'),
]

# Multi-scale + flip test (`tools/test.py CONFIG CKPT --tta`), the official `TEST.AUG`: short side
# 0.5-1.75 x 640, long side <= 4480, each view also flipped; the views' semantic scores are averaged
# (segformers.models.tta).
tta_model = dict(type='SemanticTTAModel')
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='ResizeShortestEdge', short_edge_length=s, max_size=4480) for s in (320, 480, 640, 800, 960, 1120)],
        [dict(type='RandomFlip', prob=0.0), dict(type='RandomFlip', prob=1.0)],
        [dict(type='LoadSegAnnotations')],
        [dict(type='PackSegInputs')],
    ]),
]

train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
