"""The decoder-design rows of the ablation catalog: Table 4b (query features, sub-layer order, dropout),
Table Xa (query counts) and Table Xb (query features). Format: issue #21 / ``configs/ablations/variants.py``;
paper numbers from ``official.md`` §1.8 (R50: AP = COCO instance, PQ = COCO panoptic, mIoU = ADE20K, FLOPs
on COCO instance; Table Xb publishes no FLOPs). Plain Python: importing it needs no torch."""

IMPORTS = ["projects.decoder_design.decoder_design"]
DECODER = "model.transformer_decoder"


def _design(**switches: str) -> dict:
    """Options that swap in ``DesignAblationDecoder`` with ``switches`` (the other decoder keys are kept)."""
    return {f"{DECODER}.type": "DesignAblationDecoder", **{f"{DECODER}.{k}": v for k, v in switches.items()}}


def _queries(n: int, flops_g: int, ap: float, pq: float, miou: float) -> dict:
    return dict(name=f"queries_{n}", table="Xa", label=f"{n} queries", custom_imports=[],
                options={f"{DECODER}.num_queries": n}, paper=dict(flops_g=flops_g, AP=ap, PQ=pq, mIoU=miou))


VARIANTS = [
    dict(name="no_query_features", table="4b", label="- learnable query features", custom_imports=IMPORTS,
         options=_design(query_features="zero"), paper=dict(flops_g=226, AP=42.9, PQ=51.2, mIoU=45.4)),
    dict(name="sa_before_ca", table="4b", label="- cross-attention first", custom_imports=IMPORTS,
         options=_design(layer_order="sa-ca-ffn"), paper=dict(flops_g=226, AP=43.2, PQ=51.6, mIoU=46.3)),
    dict(name="dropout_01", table="4b", label="- remove dropout (dropout 0.1)", custom_imports=[],
         options={f"{DECODER}.dropout": 0.1}, paper=dict(flops_g=226, AP=43.0, PQ=51.3, mIoU=47.2)),
    dict(name="all_three_4b", table="4b", label="all three (4b)", custom_imports=IMPORTS,
         options={**_design(query_features="zero", layer_order="sa-ca-ffn"), f"{DECODER}.dropout": 0.1},
         paper=dict(flops_g=226, AP=42.3, PQ=50.8, mIoU=46.3)),
    _queries(50, 217, 42.4, 50.5, 46.2),
    _queries(200, 246, 43.5, 52.2, 47.0),
    _queries(300, 265, 43.5, 52.1, 46.5),
    _queries(1000, 405, 40.3, 50.7, 44.8),
    dict(name="query_zero_init", table="Xb", label="zero-init query features (DETR)", custom_imports=IMPORTS,
         options=_design(query_features="zero"), paper=dict(AP=42.9, PQ=51.2, mIoU=45.5)),
    dict(name="query_learnable_unsupervised", table="Xb", label="learnable query features w/o supervision",
         custom_imports=IMPORTS, options=_design(query_features="learnable_unsupervised"),
         paper=dict(AP=42.9, PQ=51.2, mIoU=47.0)),
]
