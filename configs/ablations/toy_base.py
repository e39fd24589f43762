# The base of the toy ablation study (configs/ablations/toy_grid.py): the quick-start Mask2Former
# (res2-res4 levels, hidden 128, 3 decoder layers, conv_dim/mask_dim 64, 30 queries) sized for one cell of a
# grid on a 2-core CPU: ONE process of one thread per cell (tools/ablate.py --executor local-parallel --jobs 2
# runs two cells at once), no SharedMemoryDataParallel, and a 150-second training budget (the grid's budget
# replaces it) with a shorter schedule: warm-up 100 iterations, constant, linear decay over the last 400.
# Data: python tools/make_toy_dataset.py data/toy --num-train 1000 --num-val 300 (the grid runs it if missing).
_base_ = ["../quickstart/mask2former_r18-tiny_2xb2-570s_toy-panoptic.py"]
max_iters = 1500  # nominal: TimeBudgetHook moves the end (and the decay with it)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, end_factor=1.0, begin=0, end=100, by_epoch=False),
    dict(type="LinearLR", start_factor=1.0, end_factor=0.0, begin=max_iters - 400, end=max_iters, by_epoch=False),
]
train_cfg = dict(type="ResumableIterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters)
custom_hooks = [dict(type="TimeBudgetHook", budget_s=150, stop_at_budget=True)]
model_wrapper_cfg = None  # one process per cell
env_cfg = dict(num_threads=1)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=500, max_keep_ckpts=1, save_last=True))
