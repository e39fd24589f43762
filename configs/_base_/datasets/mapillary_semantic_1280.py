# Mapillary Vistas semantic at 1280 (MaskFormer `Base-MapillaryVistas-65.yaml`): the Mask2Former
# recipe of ./mapillary_semantic.py with a 1280x1280 crop, padded to 1280 with 128 / 65.
_base_ = './mapillary_semantic.py'
crop_size = (1280, 1280)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegAnnotations'),
    dict(type='ResizeShortestEdge',
         short_edge_length=[1024, 1228, 1433, 1638, 1843, 2048, 2252, 2457, 2662, 2867, 3072, 3276, 3481, 3686,
                            3891, 4096],
         max_size=8192, sample_style='choice'),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', single_category_max_area=1.0,
         ignore_index={{_base_.ignore_index}}),
    dict(type='ColorAugSSD'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size_divisor=1280, pad_value=128, seg_pad_value={{_base_.ignore_index}}),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
