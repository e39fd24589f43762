# The toy ablation study: python tools/ablate.py configs/ablations/toy_grid.py --executor local-parallel --jobs 2
# 13 variants x 2 seeds = 26 cells on configs/ablations/toy_base.py (docs/ablations.md, "Toy study").
# Sized for a 2-core CPU: two cells at once, one thread each; per cell `budget` training iterations (the
# same for every variant, whatever the load), then evaluation on the first `eval_images` of the 300 toy
# validation images (PQ, mIoU, mask AP).
base = "configs/ablations/toy_base.py"
variants = [
    "masked_attention",  # the baseline: every table's reference row
    # Tables 4a / 4c: the decoder's attention
    "cross_attention", "smca", "mask_pooling",
    # Table 4e: pixel decoders (MSDeformAttn is the baseline)
    "fpn", "semantic_fpn", "fapn", "bifpn",
    # Table 5: matching / loss on masks vs points (point / point is the baseline)
    "match_mask_loss_mask", "match_mask_loss_point", "match_point_loss_mask",
    # Table Xa: number of queries (the toy base has 30)
    # (instance output: the top 80 = every query x class pair of 10 queries x 8 classes; the others keep 100)
    dict(name="queries_10", table="Xa", label="10 queries", options={"model.transformer_decoder.num_queries": 10,
                                                                     "model.postprocessor.topk_per_image": 80}),
    dict(name="queries_60", table="Xa", label="60 queries", options={"model.transformer_decoder.num_queries": 60}),
]
baseline = "masked_attention"
seeds = [0, 1]
# equal iterations per cell: a fair comparison whatever the load (a time budget gives slower variants fewer)
budget = dict(iters=1200)
work_dir = "work_dirs/ablations/toy_grid"
eval_images = 150
flops_input = (128, 128)
executor = dict(type="local-parallel", jobs=2)
data = dict(check="data/toy/coco/annotations/panoptic_val2017.json",
            command="python tools/make_toy_dataset.py data/toy --num-train 1000 --num-val 300")
