# Official config: configs/cityscapes/instance-segmentation/swin/maskformer2_swin_large_IN21k_384_bs16_90k.yaml
# Official weights: model_final_dfa862.pkl (model 49111004_2)
_base_ = ["./_base_/cityscapes-instance.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_l,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_large_patch4_window12_384_22k.pth")),
    transformer_decoder=dict(num_queries=200),
)
train_dataloader = dict(batch_size=1)  # 16 GPUs x 1 image
