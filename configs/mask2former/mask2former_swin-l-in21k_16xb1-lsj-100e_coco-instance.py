# Official config: configs/coco/instance-segmentation/swin/maskformer2_swin_large_IN21k_384_bs16_100ep.yaml
# Official weights: model_final_e5f453.pkl (model 48235555)
_base_ = ["./_base_/coco-instance.py", "../_base_/backbones/swin.py"]
backbone_checkpoint = "swin_large_patch4_window12_384_22k.pkl"
model = dict(backbone=dict(_delete_=True, **_base_.swin_l), transformer_decoder=dict(num_queries=200))
train_dataloader = dict(batch_size=1)  # 16 GPUs x 1 image
# 100 epochs: 737,500 iterations, lr x0.1 at the same fractions as the 50-epoch schedule
max_iters = 737500
param_scheduler = [dict(type="WarmupMultiStepLR", milestones=[655556, 710184], gamma=0.1, warmup_iters=10,
                        warmup_factor=1.0, by_epoch=False, end=max_iters)]
train_cfg = dict(max_iters=max_iters)
