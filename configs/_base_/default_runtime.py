# Runtime defaults shared by every segformers config (mmengine text-style config).
default_scope = "segformers"

default_hooks = dict(
    timer=dict(type="IterTimerHook"),
    logger=dict(type="LoggerHook", interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type="ParamSchedulerHook"),
    # plain, atomically written checkpoints loadable with torch.load(weights_only=True), with RNG states
    checkpoint=dict(type="SafeCheckpointHook", by_epoch=False, interval=5000, max_keep_ckpts=3, save_last=True),
    sampler_seed=dict(type="DistSamplerSeedHook"),
    # the one route of the dataset's metadata to the model: before each loop, model.set_dataset_meta(
    # dataset.metainfo) checks num_classes against the classes and takes the thing classes from is_thing
    # (a default hook, so that a config's own custom_hooks keep it)
    dataset_meta=dict(type="DatasetMetaHook"),
)

# nccl for GPU runs; tools/train.py calls segformers.engine.select_dist_backend(cfg), which switches to
# gloo when CUDA is unavailable (a text config cannot import torch to decide it here).
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
    dist_cfg=dict(backend="nccl"),
)

log_processor = dict(type="LogProcessor", window_size=50, by_epoch=False)
log_level = "INFO"

vis_backends = [dict(type="LocalVisBackend")]  # add dict(type="TensorboardVisBackend") for TensorBoard
visualizer = dict(type="Visualizer", vis_backends=vis_backends, name="visualizer")

randomness = dict(seed=0)

load_from = None
resume = False
