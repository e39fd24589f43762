# MaskFormer Swin on COCO panoptic (`swin/maskformer_panoptic_swin_*_bs64_554k.yaml`): the R50 recipe with the
# FPN pixel decoder, the decoder on res5 through a 1x1 input projection (ENFORCE_INPUT_PROJ), and the Swin
# solver: AdamW lr 6e-5, weight decay 0.01, backbone lr x1.0, warm-up 1500 iters from factor 1e-6.
_base_ = "./coco-panoptic.py"
model = dict(
    pixel_decoder=dict(_delete_=True, type="FPNPixelDecoder", conv_dim=256, mask_dim=256, norm="GN"),
    transformer_decoder=dict(in_feature="res5", enforce_input_project=True),
)
optim_wrapper = dict(optimizer=dict(lr=6e-5, weight_decay=0.01), paramwise_cfg=dict(backbone_multiplier=1.0))
param_scheduler = [dict(type="WarmupMultiStepLR", milestones=[369600], gamma=0.1, warmup_iters=1500,
                        warmup_factor=1e-6, by_epoch=False, end=_base_.max_iters)]
