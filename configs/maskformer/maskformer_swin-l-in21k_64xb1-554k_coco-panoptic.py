# Official config: configs/coco-panoptic/swin/maskformer_panoptic_swin_large_IN21k_384_bs64_554k.yaml
# Official weights: model_final_7505c4.pkl (model 43219274)
_base_ = ["./_base_/coco-panoptic-swin.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_l,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_large_patch4_window12_384_22k.pth")),
)
# Swin-L: MAX_SIZE_TRAIN 1000 (the final resize of both `detr_panoptic` branches)
detr_max_size = 1000
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadSegAnnotations", with_sem_seg=False),
    dict(type="RandomFlip", prob=0.5),
    dict(type="RandomChoice", prob=[0.5, 0.5], transforms=[
        [dict(type="ResizeShortestEdge", short_edge_length=_base_.detr_short_edges, max_size=detr_max_size,
              sample_style="choice")],
        [dict(type="ResizeShortestEdge", short_edge_length=[400, 500, 600], sample_style="choice"),
         dict(type="RandomCrop", crop_size=(384, 600), crop_type="absolute_range"),
         dict(type="ResizeShortestEdge", short_edge_length=_base_.detr_short_edges, max_size=detr_max_size,
              sample_style="choice")],
    ]),
    dict(type="PackSegInputs", drop_empty=False),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
