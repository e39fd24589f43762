# Mask2Former R50 with the BiFPN pixel decoder (paper Table 4e); nothing in segformers/ is edited.
_base_ = ["../../../configs/_base_/models/mask2former_r50.py"]
custom_imports = dict(imports=["projects.pixel_decoders.pixel_decoders_ablation"], allow_failed_imports=False)
model = dict(
    pixel_decoder=dict(
        _delete_=True,
        type="BiFPNPixelDecoder",
        conv_dim=256,
        mask_dim=256,
        norm="GN",
        in_features=["res2", "res3", "res4", "res5"],
        # the Table 4e FPN family's encoder on the 1/32 map (projects/pixel_decoders/README.md, "FLOPs")
        transformer_enc_layers=6,
        transformer_nheads=8,
        transformer_dim_feedforward=2048,
        transformer_dropout=0.0,
        num_repeats=1,
        separable=False,
    )
)
