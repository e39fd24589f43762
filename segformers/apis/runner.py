"""Turn a config plus command-line flags into an mmengine ``Runner`` (used by tools/train.py, test.py)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.config import Config


def apply_common_flags(cfg: Config, config_path: str, work_dir: Optional[str], launcher: str,
                       cfg_options: Optional[dict]) -> Config:
    """``--cfg-options``, ``--work-dir`` (default ``work_dirs/<config name>``) and ``--launcher``."""
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get("work_dir") is None:
        cfg.work_dir = str(Path("work_dirs") / Path(config_path).stem)
    cfg.launcher = launcher
    return cfg


def apply_resume(cfg: Config, resume: Optional[str]) -> Config:
    """``--resume`` (latest checkpoint of the work dir) or ``--resume CKPT``."""
    if resume is None:
        return cfg
    cfg.resume = True
    cfg.load_from = None if resume == "auto" else resume
    return cfg


def setup_distributed(cfg: Config) -> Config:
    """Prepare multi-process runs started by torchrun (``--launcher pytorch``) or slurm.

    On GPU machines mmengine initialises NCCL itself. Without CUDA, mmengine 0.10.7 would call
    ``torch.cuda.set_device``; here the gloo process group is initialised first (mmengine then skips
    its own) and DDP is built with ``device_ids=None``, which is what CPU modules need.
    ``find_unused_parameters`` in the config is honoured either way.
    """
    from segformers.engine import select_dist_backend

    select_dist_backend(cfg)
    if cfg.launcher == "none":
        return cfg
    if torch.cuda.is_available():
        _check_one_gpu_per_process()
        return cfg
    if cfg.launcher == "slurm":
        os.environ.setdefault("RANK", os.environ.get("SLURM_PROCID", "0"))
        os.environ.setdefault("WORLD_SIZE", os.environ.get("SLURM_NTASKS", "1"))
        os.environ.setdefault("LOCAL_RANK", os.environ.get("SLURM_LOCALID", "0"))
        os.environ.setdefault("MASTER_PORT", "29500")
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    wrapper = dict(cfg.get("model_wrapper_cfg") or {})
    wrapper.setdefault("type", "MMDistributedDataParallel")
    wrapper["device_ids"] = None
    wrapper.setdefault("broadcast_buffers", False)
    wrapper.setdefault("find_unused_parameters", bool(cfg.get("find_unused_parameters", False)))
    cfg.model_wrapper_cfg = wrapper
    return cfg


def _check_one_gpu_per_process() -> None:
    """NCCL runs one process per GPU: a local rank without a GPU of its own gets an error naming the fix
    (mmengine's ``torch.cuda.set_device`` would fail with "invalid device ordinal")."""
    local_rank = int(os.environ.get("LOCAL_RANK", os.environ.get("SLURM_LOCALID", "0")))
    gpus = torch.cuda.device_count()
    if local_rank >= gpus:
        raise RuntimeError(
            f"Process of local rank {local_rank} has no GPU: {gpus} visible on this machine, one per process is "
            f"needed. Start at most {gpus} processes per machine (tools/dist_train.sh CONFIG {gpus}), or train on "
            "the CPU with gloo: CUDA_VISIBLE_DEVICES= tools/dist_train.sh CONFIG N."
        )


def build_runner(cfg: Config, loader: str = "train_dataloader"):  # noqa: ANN201
    """``Runner.from_cfg`` after importing every segformers registry location and setting the torch
    threads of this process (``env_cfg.num_threads``, counting the workers of ``cfg[loader]``)."""
    import segformers.data  # noqa: F401
    import segformers.engine  # noqa: F401  (also makes checkpoint loading weights_only-safe)
    import segformers.evaluation  # noqa: F401
    import segformers.models  # noqa: F401
    from mmengine.runner import Runner

    from segformers.engine.threads import setup_num_threads

    setup_num_threads(cfg, loader)
    cfg.setdefault("default_scope", "segformers")
    return Runner.from_cfg(cfg)
