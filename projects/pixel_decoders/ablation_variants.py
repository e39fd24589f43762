"""Table 4e (pixel decoders) as ablation-runner variants (plain data; see the common contract).

Each option replaces the whole ``model.pixel_decoder`` (``_delete_=True``) and takes its sizes from the
base config (``"${...}"`` references), so it applies to the toy base and to the paper base alike:
``in_features`` are the backbone's ``out_features`` (res2-res5 on the paper base, res2-res4 on the toy base).
MSDeformAttn (the default) is the runner's baseline row.
"""
IMPORTS = ["projects.pixel_decoders.pixel_decoders_ablation"]
SIZES = dict(conv_dim="${model.pixel_decoder.conv_dim}", mask_dim="${model.pixel_decoder.mask_dim}",
             norm="${model.pixel_decoder.norm}", in_features="${model.backbone.out_features}")
# The FPN family carries a DETR encoder on the 1/32 map: Mask2Former's code builds MaskFormer's
# TransformerEncoderPixelDecoder with the base's encoder depth and heads, the transformer decoder's feed-forward
# width (MASK_FORMER.DIM_FEEDFORWARD) and dropout 0; the reading whose FLOPs agree with Table 4e
# (projects/pixel_decoders/README.md, "FLOPs"). `transformer_enc_layers=0` gives the encoder-free decoders.
ENCODER = dict(transformer_enc_layers="${model.pixel_decoder.transformer_enc_layers}",
               transformer_nheads="${model.pixel_decoder.transformer_nheads}",
               transformer_dim_feedforward="${model.transformer_decoder.dim_feedforward}", transformer_dropout=0.0)


def _decoder(type_name: str, **extra: object) -> dict:
    return {"model.pixel_decoder": dict(_delete_=True, type=type_name, **SIZES, **extra)}


# BiFPN: the paper does not say which BiFPN it used. One pass with plain 3x3 node convs is the reading whose
# FLOPs agree with its 204G (projects/pixel_decoders/README.md); EfficientDet's depthwise-separable nodes
# are the class default (separable=True).
VARIANTS = [
    dict(name="fpn", table="4e", label="FPN", custom_imports=[],
         options=_decoder("TransformerEncoderPixelDecoder", **ENCODER),
         paper=dict(flops_g=195, AP=41.5, PQ=50.7, mIoU=45.6)),
    dict(name="semantic_fpn", table="4e", label="Semantic FPN", custom_imports=IMPORTS,
         options=_decoder("SemanticFPNPixelDecoder", **ENCODER), paper=dict(flops_g=258, AP=42.1, PQ=51.2, mIoU=46.2)),
    dict(name="fapn", table="4e", label="FaPN", custom_imports=IMPORTS,
         options=_decoder("FaPNPixelDecoder"), paper=dict(AP=42.4, PQ=51.8, mIoU=46.8)),
    dict(name="bifpn", table="4e", label="BiFPN", custom_imports=IMPORTS,
         options=_decoder("BiFPNPixelDecoder", num_repeats=1, separable=False, **ENCODER),
         paper=dict(flops_g=204, AP=43.5, PQ=51.8, mIoU=45.6)),
]
