"""The Table 4c attention-type rows this project adds to the ablation catalog (format: docs of issue #21 /
``configs/ablations/variants.py``); paper numbers from ``official.md`` §1.8 (R50: AP = COCO instance,
PQ = COCO panoptic, mIoU = ADE20K, FLOPs on COCO instance). Plain Python: importing it needs no torch."""

IMPORTS = ["projects.attention_types.attention_types"]

VARIANTS = [
    dict(
        name="smca",
        table="4c",
        label="SMCA cross-attention",
        custom_imports=IMPORTS,
        options={"model.transformer_decoder.type": "SMCADecoder"},
        paper=dict(flops_g=213, AP=37.9, PQ=47.2, mIoU=46.6),
    ),
    dict(
        name="mask_pooling",
        table="4c",
        label="mask pooling",
        custom_imports=IMPORTS,
        options={"model.transformer_decoder.type": "MaskPoolingDecoder"},
        paper=dict(flops_g=217, AP=43.1, PQ=51.5, mIoU=46.0),
    ),
]
