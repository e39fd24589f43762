# The papers' optimizer (official.md §2.4): AdamW lr 1e-4, wd 0.05, backbone lr x0.1, no weight decay on
# norms / nn.Embedding / Swin position tables, full-model L2 gradient clipping at 0.01.
# MaskFormer (v1) ResNet configs override weight_decay=1e-4; MaskFormer Swin: lr 6e-5, wd 0.01,
# backbone_multiplier 1.0, warm-up 1500 iters factor 1e-6.
optim_wrapper = dict(
    type="OptimWrapper",  # `tools/train.py --amp` switches to MixedPrecisionOptimWrapper
    constructor="MaskFormerOptimWrapperConstructor",
    optimizer=dict(type="AdamW", lr=1e-4, weight_decay=0.05, betas=(0.9, 0.999), eps=1e-8),
    paramwise_cfg=dict(
        backbone_multiplier=0.1,
        weight_decay_norm=0.0,
        weight_decay_embed=0.0,
        no_decay_names=("relative_position_bias_table", "absolute_pos_embed"),
    ),
    clip_grad=dict(max_norm=0.01, norm_type=2),  # mmengine clips all parameters of all groups together
)
