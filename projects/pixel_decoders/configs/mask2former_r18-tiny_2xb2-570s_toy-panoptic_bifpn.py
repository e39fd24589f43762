# The quick start (configs/quickstart) with the BiFPN pixel decoder: the toy twin of its Table 4e row.
_base_ = ["../../../configs/quickstart/mask2former_r18-tiny_2xb2-570s_toy-panoptic.py"]
custom_imports = dict(imports=["projects.pixel_decoders.pixel_decoders_ablation"], allow_failed_imports=False)
model = dict(
    pixel_decoder=dict(
        _delete_=True,
        type="BiFPNPixelDecoder",
        conv_dim=64,
        mask_dim=64,
        norm="GN",
        in_features={{_base_.feature_levels}},
        # the toy base's encoder depth and heads, its decoder's feed-forward width (the Table 4e variants' encoder)
        transformer_enc_layers=1,
        transformer_nheads=4,
        transformer_dim_feedforward=512,
        num_repeats=1,
        separable=False,
    )
)
