"""Torch intra-op threads of the main process (mmengine sets them for dataloader workers only).

On a small CPU machine torch's default, one OpenMP thread per core, competes with the dataloader
workers and with other processes, and every small op then waits at a barrier for a descheduled
thread: on a 2-core machine running one other job, a quick-start training step took 12-20 s with
2 threads and 0.8 s with 1; idle, 2 threads were only 10-25 % faster (docs/training.md).
``env_cfg.num_threads`` chooses the count before the Runner is built:

* ``"auto"`` (the default): the cores this process may use (CPU affinity, shared by the local ranks
  of a multi-process run) minus one per dataloader worker and one left for everything else, at least
  1 and never more than torch's current count (2 cores: 1 thread);
* an ``int``: that many threads;
* ``None``: torch's default.

An ``OMP_NUM_THREADS`` environment variable always wins (torchrun sets it to 1 for several processes).
"""
from __future__ import annotations

import os
from typing import Any, Optional, Union

import torch

ThreadSetting = Union[int, str, None]


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return max(os.cpu_count() or 1, 1)


def resolve_num_threads(setting: ThreadSetting, num_workers: int, cores: int, local_procs: int = 1,
                        current: Optional[int] = None) -> Optional[int]:
    """The thread count for ``setting`` (see the module docstring); ``None`` keeps torch's default.

    Args:
        setting: ``"auto"``, a positive ``int`` or ``None``.
        num_workers: dataloader worker processes of this process (each is given a core).
        cores: cores of the machine available to this job.
        local_procs: processes of the job on this machine (torchrun's ``LOCAL_WORLD_SIZE``).
        current: torch's current count, the upper bound of ``"auto"`` (default: no bound).
    """
    if setting is None:
        return None
    if setting == "auto":
        threads = max(cores // max(local_procs, 1) - max(num_workers, 0) - 1, 1)
        return threads if current is None else min(threads, current)
    if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
        raise ValueError(f"env_cfg.num_threads must be 'auto', a positive int or None, got {setting!r}.")
    return setting


def setup_num_threads(cfg: Any, loader: str = "train_dataloader") -> Optional[int]:
    """Apply ``cfg.env_cfg.num_threads`` with the workers of ``cfg[loader]``; returns the count set.

    Does nothing (returns ``None``) when ``OMP_NUM_THREADS`` is set or the setting is ``None``.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    setting = (cfg.get("env_cfg") or {}).get("num_threads", "auto")
    loader_cfg = cfg.get(loader) or {}
    num_workers = int(loader_cfg.get("num_workers", 0) or 0)
    local_procs = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    threads = resolve_num_threads(setting, num_workers, available_cores(), local_procs, torch.get_num_threads())
    if threads is not None:
        torch.set_num_threads(threads)
    return threads
