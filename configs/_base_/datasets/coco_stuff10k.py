# COCO-Stuff-10K semantic (171 classes), MaskFormer `Base-COCOStuff10K-171.yaml`: short side in
# {int(0.1 * x * 640), x = 5..15} ("choice", 0.5-1.5x of 640), long side <= 2560, 640x640 crop,
# SSD colour jitter, flip, pad to 640 with 128 / 255. Test (the 1k test split): short side 640,
# long side <= 2560.
custom_imports = dict(imports=['segformers.data.datasets.coco_stuff'], allow_failed_imports=False)
dataset_type = 'CocoStuff10kDataset'
data_root = 'data/coco/coco_stuff_10k/'
crop_size = (640, 640)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegAnnotations'),
    dict(type='ResizeShortestEdge', short_edge_length=[320, 384, 448, 512, 576, 640, 704, 768, 832, 896, 960],
         max_size=2560, sample_style='choice'),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', single_category_max_area=1.0,
         ignore_index=255),
    dict(type='ColorAugSSD'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size_divisor=640, pad_value=128, seg_pad_value=255),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeShortestEdge', short_edge_length=640, max_size=2560),
    dict(type='LoadSegAnnotations'),
    dict(type='PackSegInputs'),
]

# Multi-scale + flip test (`tools/test.py CONFIG CKPT --tta`), the official `TEST.AUG` (MaskFormer):
# short side 0.5-1.75 x 640, long side <= 4480, each view also flipped; the views' semantic scores are
# averaged (segformers.models.tta).
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

train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images_detectron2/train', seg_map_path='annotations_detectron2/train'),
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
        data_prefix=dict(img_path='images_detectron2/test', seg_map_path='annotations_detectron2/test'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# Official: SemSegEvaluator (mIoU).
val_evaluator = dict(type='SemSegMetric')
test_evaluator = val_evaluator
