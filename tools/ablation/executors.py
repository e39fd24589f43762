"""Where the cells run: ``local`` (one after the other), ``local-parallel`` (N at once, each cell a subprocess
of cores / N threads) or ``slurm`` (one submitit job per cell; submitit's ``AutoExecutor``, which also runs
them as local processes with ``cluster="local"``, as the tests do). No scheduler of our own: the records come
back to this process, which alone writes ``results.jsonl``."""
from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from .cells import run_cell

Callback = Callable[[dict[str, Any]], None]


def cpu_count() -> int:
    """CPUs this process may use (the affinity mask, as a container or ``taskset`` sets it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def threads_per_cell(kind: str, jobs: int, executor_cfg: Mapping[str, Any]) -> int:
    """Torch threads of each cell: all cores (local), cores / jobs (local-parallel), the slurm CPUs per task."""
    if kind == "local":
        return cpu_count()
    if kind == "local-parallel":
        return max(1, cpu_count() // max(1, jobs))
    slurm = dict(executor_cfg.get("slurm") or {})
    return int(slurm.get("cpus_per_task", slurm.get("slurm_cpus_per_task", 1)))


def run_local(specs: Sequence[dict], on_done: Callback) -> None:
    for spec in specs:
        on_done(run_cell(spec))


def run_local_parallel(specs: Sequence[dict], on_done: Callback, jobs: int) -> None:
    """``jobs`` cells at once (threads here, each waiting on its cell's subprocesses)."""
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending = {pool.submit(run_cell, spec) for spec in specs}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                on_done(future.result())


def _submitit_executor(executor_cfg: Mapping[str, Any], folder: Path):  # noqa: ANN202
    try:
        import submitit
    except ImportError as exc:
        raise RuntimeError("--executor slurm needs submitit: pip install -r requirements/optional.txt") from exc
    cluster = executor_cfg.get("cluster")  # None: slurm if sbatch is available; "local": local processes
    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    params = dict(executor_cfg.get("slurm") or {})
    params = {k if k.startswith("slurm_") or k in _GENERIC else f"slurm_{k}": v for k, v in params.items()}
    executor.update_parameters(**params)
    return executor


# AutoExecutor parameters that are not slurm-prefixed (submitit's generic names)
_GENERIC = ("timeout_min", "mem_gb", "nodes", "gpus_per_node", "tasks_per_node", "cpus_per_task", "name",
            "stderr_to_stdout")


def run_submitit(specs: Sequence[dict], on_done: Callback, executor_cfg: Mapping[str, Any], folder: Path,
                 poll_s: float = 2.0) -> None:
    """One submitit job per cell; records are handed to ``on_done`` as the jobs finish."""
    executor = _submitit_executor(executor_cfg, folder)
    jobs = [(spec, executor.submit(run_cell, spec)) for spec in specs]
    pending = list(jobs)
    while pending:
        still = []
        for spec, job in pending:
            if not job.done():
                still.append((spec, job))
                continue
            try:
                on_done(job.result())
            except Exception as exc:  # the job itself died (node failure, time limit): record it, go on
                on_done(dict(key=f"{spec['name']}/seed{spec['seed']}", name=spec["name"], seed=spec["seed"],
                             table=spec["table"], label=spec["label"], paper=spec["paper"],
                             work_dir=spec["work_dir"], status="failed", stage="submitit",
                             error=f"{type(exc).__name__}: {str(exc)[-2000:]}"))
        pending = still
        if pending:
            time.sleep(poll_s)


def run_cells(kind: str, specs: Sequence[dict], on_done: Callback, jobs: int = 1,
              executor_cfg: Optional[Mapping[str, Any]] = None, folder: Optional[Path] = None) -> None:
    """Run ``specs`` with the named executor, calling ``on_done(record)`` for each finished cell."""
    if kind == "local":
        run_local(specs, on_done)
    elif kind == "local-parallel":
        run_local_parallel(specs, on_done, jobs)
    elif kind == "slurm":
        run_submitit(specs, on_done, dict(executor_cfg or {}), Path(folder or "submitit"))
    else:
        raise ValueError(f"--executor {kind!r}: use local, local-parallel or slurm.")
