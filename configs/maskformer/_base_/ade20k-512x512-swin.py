# MaskFormer Swin solver on ADE20K-150 (`swin/maskformer_swin_{tiny,small}_bs16_160k.yaml`): AdamW lr 6e-5,
# weight decay 0.01, backbone lr x1.0, linear warm-up over 1500 iters from factor 1e-6, then poly.
_base_ = "./ade20k-512x512.py"
optim_wrapper = dict(optimizer=dict(lr=6e-5, weight_decay=0.01), paramwise_cfg=dict(backbone_multiplier=1.0))
param_scheduler = [
    dict(type="WarmupPolyLR", max_iters=_base_.max_iters, power=0.9, warmup_iters=1500, warmup_factor=1e-6,
         by_epoch=False)
]
