# The runner's own catalog rows (tools/ablation/variants.py reads VARIANTS from here and from every
# projects/*/ablation_variants.py). The baseline is the default Mask2Former: masked attention, MSDeformAttn pixel
# decoder, round-robin multi-scale features, point losses; it is the reference row of every paper table.
# Paper numbers: /work/shared/reference/official.md §1.8 (R50; AP COCO instance, PQ COCO panoptic, mIoU ADE20K,
# FLOPs on COCO instance).
VARIANTS = [
    dict(
        name="masked_attention",
        table=["4a", "4b", "4c", "4d", "4e", "5", "Xa", "Xb"],
        label="Mask2Former (masked attention, the default)",
        custom_imports=[],
        options={},
        paper=dict(flops_g=226, AP=43.7, PQ=51.9, mIoU=47.2),
    ),
]
BASELINE = "masked_attention"
