# Official config: configs/coco/panoptic-segmentation/swin/maskformer2_swin_large_IN21k_384_bs16_100ep.yaml
# Official weights: model_final_f07440.pkl (model 47429163_0)
_base_ = ["./_base_/coco-panoptic-100e.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_l,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_large_patch4_window12_384_22k.pth")),
    transformer_decoder=dict(num_queries=200),
)
train_dataloader = dict(batch_size=1)  # 16 GPUs x 1 image
