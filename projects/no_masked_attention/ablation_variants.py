"""The "cross-attention" row (Table 4a "- masked attention" and Table 4c "cross-attn") in the ablation
catalog (format: issue #21 / ``configs/ablations/variants.py``); paper numbers from ``official.md`` §1.8
(R50: AP = COCO instance, PQ = COCO panoptic, mIoU = ADE20K, FLOPs on COCO instance). No torch import."""

VARIANTS = [
    dict(
        name="cross_attention",
        table=["4a", "4c"],
        label="cross-attention (no mask)",
        custom_imports=["projects.no_masked_attention.no_masked_attention"],
        options={"model.transformer_decoder.type": "PlainCrossAttentionDecoder"},
        paper=dict(flops_g=213, AP=37.8, PQ=47.1, mIoU=45.5),
    ),
]
