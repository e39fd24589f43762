"""Table 4d (features fed to the decoder) as ablation-runner variants (plain data; see common contract).

``single_scale_level`` counts the pixel decoder's multi-scale maps from the coarsest: on the paper base
(1/32, 1/16, 1/8) the names are exact; on the toy base (res2-res4 levels: 1/16, 1/8, 1/4) the same index
picks that base's coarsest / middle / finest map. The round-robin default is the runner's baseline row.
"""
IMPORTS = ["projects.feature_levels.feature_levels"]
DECODER = "model.transformer_decoder"


def _single(level: int) -> dict:
    return {f"{DECODER}.type": "SingleScaleMaskedDecoder", f"{DECODER}.single_scale_level": level}


VARIANTS = [
    dict(name="single_scale_1_32", table=["4a", "4d"], label="single scale (1/32)",
         custom_imports=IMPORTS, options=_single(0), paper=dict(flops_g=218, AP=41.5, PQ=50.2, mIoU=46.1)),
    dict(name="single_scale_1_16", table="4d", label="single scale (1/16)",
         custom_imports=IMPORTS, options=_single(1), paper=dict(flops_g=222, AP=43.0, PQ=51.5, mIoU=46.5)),
    dict(name="single_scale_1_8", table="4d", label="single scale (1/8)",
         custom_imports=IMPORTS, options=_single(2), paper=dict(flops_g=239, AP=44.0, PQ=51.8, mIoU=47.4)),
    dict(name="naive_multi_scale", table="4d", label="naive m.s. (all levels every layer)",
         custom_imports=IMPORTS, options={f"{DECODER}.type": "NaiveMultiScaleMaskedDecoder"},
         paper=dict(flops_g=247, AP=44.0, PQ=51.9, mIoU=46.3)),
]
