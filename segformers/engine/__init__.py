"""Training machinery: the official optimizer recipe, lr schedules, mixed precision, safe checkpoints.

Registered names (scope ``segformers``):

* ``OPTIM_WRAPPER_CONSTRUCTORS``: ``MaskFormerOptimWrapperConstructor``;
* ``OPTIM_WRAPPERS``: ``MixedPrecisionOptimWrapper`` (fp16 on CUDA, bf16 on CPU);
* ``PARAM_SCHEDULERS``: ``WarmupPolyLR``, ``WarmupMultiStepLR`` (detectron2's closed forms);
* ``HOOKS``: ``SafeCheckpointHook``, ``CheckpointFitHook``, ``MatchCostScheduleHook``, ``TimeBudgetHook``,
  ``DatasetMetaHook``;
  ``LOOPS``: ``ResumableIterBasedTrainLoop``;
* ``MODEL_WRAPPERS``: ``SharedMemoryDataParallel`` (CPU processes of one machine).

Importing this package also makes mmengine load local checkpoints with ``torch.load(weights_only=True)``
(see :mod:`segformers.engine.checkpoint`).
"""
from typing import Any

import torch

from .amp import MixedPrecisionOptimWrapper, bf16_is_native, enable_amp, warn_if_bf16_emulated
from .checkpoint import (SafeCheckpointHook, capture_rng_state, convert_checkpoint, from_plain,
                         load_local_weights_only, restore_rng_state, to_plain)
from .dataset_meta_hook import DatasetMetaHook
from .checkpoint_fit import CheckpointFitHook, CheckpointMismatchError, add_checkpoint_fit_hook, resume_checkpoint
from .loops import ResumableIterBasedTrainLoop
from .match_cost_hook import MatchCostScheduleHook
from .optim_constructor import MaskFormerOptimWrapperConstructor, group_of_each_parameter
from .schedulers import WarmupMultiStepLR, WarmupPolyLR
from .shared_memory_ddp import SharedMemoryDataParallel
from .time_budget_hook import TimeBudgetHook


def select_dist_backend(cfg: Any) -> Any:
    """Use ``gloo`` instead of the config's ``nccl`` when CUDA is unavailable (call before the Runner).

    Note: mmengine 0.10.7's ``launcher='pytorch'`` still calls ``torch.cuda.set_device`` and wraps the
    model with ``device_ids``, so multi-process training itself needs GPUs; gloo serves CPU collectives.
    """
    dist_cfg = cfg.setdefault("env_cfg", {}).setdefault("dist_cfg", {})
    if not torch.cuda.is_available() and dist_cfg.get("backend", "nccl") == "nccl":
        dist_cfg["backend"] = "gloo"
    return cfg


__all__ = [
    "MaskFormerOptimWrapperConstructor",
    "group_of_each_parameter",
    "MixedPrecisionOptimWrapper",
    "WarmupPolyLR",
    "WarmupMultiStepLR",
    "SafeCheckpointHook",
    "CheckpointFitHook",
    "CheckpointMismatchError",
    "add_checkpoint_fit_hook",
    "resume_checkpoint",
    "MatchCostScheduleHook",
    "TimeBudgetHook",
    "DatasetMetaHook",
    "ResumableIterBasedTrainLoop",
    "SharedMemoryDataParallel",
    "enable_amp",
    "bf16_is_native",
    "warn_if_bf16_emulated",
    "select_dist_backend",
    "to_plain",
    "from_plain",
    "capture_rng_state",
    "restore_rng_state",
    "load_local_weights_only",
    "convert_checkpoint",
]
