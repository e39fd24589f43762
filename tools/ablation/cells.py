"""One cell of a grid = one variant x one seed: its resolved config, and running it.

:func:`make_cells` writes ``<work_dir>/cells/<variant>/seed<k>/config.py`` (the base with the variant, the grid's
options, the seed and the budget merged in: a complete config that ``tools/train.py`` can run alone);
:func:`run_cell` trains it with ``tools/train.py --resume --allow-fresh-start`` (an interrupted cell continues
from its last checkpoint), then evaluates the final checkpoint with ``tools/ablation/evaluate.py`` (which runs
``tools/test.py`` and counts parameters and FLOPs), each as a subprocess, and returns the cell's record.
"""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from mmengine.config import Config

from .grid import Grid
from .variants import REPO, apply_variant

TRAIN_DONE = "train_done.json"
LOG_TAIL = 3000


@dataclass
class Cell:
    """A variant x seed, with its config file and work dir."""

    variant: dict[str, Any]
    seed: int
    work_dir: str
    config: str

    @property
    def key(self) -> str:
        return cell_key(self.variant["name"], self.seed)


def cell_key(name: str, seed: int) -> str:
    return f"{name}/seed{seed}"


def _move_end_anchored(schedulers: Any, old_end: int, new_end: int) -> Any:
    """Schedulers ending at ``old_end`` move to end at ``new_end``, keeping their length (clamped at 0)."""
    if not isinstance(schedulers, list):
        return schedulers
    out = []
    for s in schedulers:
        s = dict(s)
        if s.get("end") == old_end and not s.get("by_epoch", False):
            length = old_end - int(s.get("begin", 0))
            s["end"], s["begin"] = new_end, max(0, new_end - length)
        out.append(s)
    return out


def apply_budget(cfg: Config, budget: dict[str, float]) -> None:
    """``iters``: a fixed ``train_cfg.max_iters`` (no TimeBudgetHook; end-anchored schedulers move with the end).
    ``seconds``: a ``TimeBudgetHook(budget_s=seconds, stop_at_budget=True)`` (replacing the base's own)."""
    hooks = [dict(h) for h in cfg.get("custom_hooks") or [] if dict(h).get("type") != "TimeBudgetHook"]
    if "iters" in budget:
        old = int(cfg.train_cfg.get("max_iters", budget["iters"]))
        new = int(budget["iters"])
        cfg.param_scheduler = _move_end_anchored(copy.deepcopy(cfg.get("param_scheduler")), old, new)
        cfg.train_cfg.max_iters = new
        if "max_iters" in cfg:
            cfg.max_iters = new
    else:
        hooks.append(dict(type="TimeBudgetHook", budget_s=float(budget["seconds"]), stop_at_budget=True))
    cfg.custom_hooks = hooks


def cell_config(grid: Grid, variant: dict[str, Any], seed: int, work_dir: str) -> Config:
    """The resolved config of one cell (validation off: the cell is evaluated after training)."""
    base_path = variant.get("config") or grid.base
    cfg = apply_variant(Config.fromfile(str(REPO / base_path) if not Path(base_path).is_file() else base_path),
                        variant, grid.options)
    apply_budget(cfg, grid.budget)
    cfg.randomness = dict(seed=int(seed), deterministic=False)
    cfg.work_dir = work_dir
    cfg.train_cfg.val_interval = 10**9
    cfg.val_dataloader, cfg.val_cfg, cfg.val_evaluator = None, None, None
    cfg.pop("model_wrapper_cfg", None)  # one process per cell
    if grid.eval_images is not None:
        cfg.test_dataloader.dataset.indices = int(grid.eval_images)
    return cfg


def make_cells(grid: Grid, write: bool = True) -> list[Cell]:
    """Every variant x seed of the grid, in grid order; ``write`` dumps each cell's config.py."""
    cells = []
    for variant in grid.variants:
        for seed in grid.seeds:
            work_dir = str(Path(grid.work_dir) / "cells" / variant["name"] / f"seed{seed}")
            config = str(Path(work_dir) / "config.py")
            if write:
                cfg = cell_config(grid, variant, seed, work_dir)
                Path(work_dir).mkdir(parents=True, exist_ok=True)
                cfg.dump(config)
            cells.append(Cell(variant=variant, seed=seed, work_dir=work_dir, config=config))
    return cells


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The path in ``<work_dir>/last_checkpoint`` (mmengine's pointer), if it exists."""
    pointer = Path(work_dir) / "last_checkpoint"
    if not pointer.is_file():
        return None
    path = pointer.read_text().strip()
    return path if path and Path(path).is_file() else None


def checkpoint_iter(path: Optional[str]) -> int:
    match = re.search(r"iter_(\d+)\.pth$", path or "")
    return int(match.group(1)) if match else 0


def _run(cmd: list[str], log: Path, threads: int) -> tuple[int, float, float]:
    """Run ``cmd`` (output to ``log``); returns (exit code, seconds, RSS high-water MB of the process tree)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    start = time.time()
    with open(log, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=str(Path.cwd()), env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.time() - start, usage.ru_maxrss / 1024.0  # KiB on Linux


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-LOG_TAIL:]
    except OSError:
        return ""


def seconds_per_iter(work_dir: str) -> Optional[float]:
    """Median of the ``time`` scalars (seconds per iteration, window means) of the cell's training logs."""
    times = []
    for scalars in sorted(Path(work_dir).glob("*/vis_data/scalars.json")):
        for line in scalars.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if "time" in row and "loss" in row:
                times.append(float(row["time"]))
    if not times:
        return None
    times.sort()
    return times[len(times) // 2]


def cell_spec(cell: Cell, grid: Grid, threads: int) -> dict[str, Any]:
    """What :func:`run_cell` needs, as plain (picklable) values."""
    v = cell.variant
    return dict(name=v["name"], seed=cell.seed, table=list(v["table"]), label=v["label"], paper=dict(v["paper"]),
                work_dir=str(Path(cell.work_dir).resolve()), config=str(Path(cell.config).resolve()),
                threads=int(threads), flops_input=list(grid.flops_input), budget=dict(grid.budget),
                cwd=str(Path.cwd()), python=sys.executable)


def _train(spec: dict[str, Any], log: Path, record: dict[str, Any]) -> bool:
    work_dir = Path(spec["work_dir"])
    if (work_dir / TRAIN_DONE).is_file():
        record.update(json.loads((work_dir / TRAIN_DONE).read_text()), train_reused=True)
        return True
    record["resumed_from_iter"] = checkpoint_iter(last_checkpoint(str(work_dir)))
    cmd = [spec["python"], str(REPO / "tools" / "train.py"), spec["config"], "--work-dir", str(work_dir),
           "--resume", "--allow-fresh-start", "--cfg-options", f"env_cfg.num_threads={spec['threads']}"]
    code, seconds, rss = _run(cmd, log, spec["threads"])
    ckpt = last_checkpoint(str(work_dir))
    if code != 0 or ckpt is None:
        record.update(status="failed", stage="train", exit_code=code, log_tail=_tail(log))
        return False
    done = dict(train_s=round(seconds, 2), peak_rss_mb=round(rss, 1), iters=checkpoint_iter(ckpt),
                sec_per_iter=seconds_per_iter(str(work_dir)), checkpoint=ckpt,
                resumed_from_iter=record["resumed_from_iter"])
    (work_dir / TRAIN_DONE).write_text(json.dumps(done))
    record.update(done)
    return True


def _evaluate(spec: dict[str, Any], log: Path, record: dict[str, Any]) -> bool:
    work_dir = Path(spec["work_dir"])
    out = work_dir / "eval.json"
    out.unlink(missing_ok=True)
    cmd = [spec["python"], str(REPO / "tools" / "ablation" / "evaluate.py"), spec["config"], record["checkpoint"],
           "--work-dir", str(work_dir / "test"), "--out", str(out), "--threads", str(spec["threads"]),
           "--flops-input", *map(str, spec["flops_input"])]
    code, seconds, rss = _run(cmd, log, spec["threads"])
    if code != 0 or not out.is_file():
        record.update(status="failed", stage="test", exit_code=code, log_tail=_tail(log))
        return False
    record.update(json.loads(out.read_text()), test_s=round(seconds, 2), test_peak_rss_mb=round(rss, 1))
    return True


def run_cell(spec: dict[str, Any]) -> dict[str, Any]:
    """Train (or resume) and evaluate one cell; returns its record (``status`` "ok" or "failed")."""
    start = time.time()
    os.chdir(spec["cwd"])
    work_dir = Path(spec["work_dir"])
    work_dir.mkdir(parents=True, exist_ok=True)
    log = work_dir / "cell.log"
    record: dict[str, Any] = {k: spec[k] for k in ("name", "seed", "table", "label", "paper", "work_dir",
                                                    "threads", "budget")}
    record["key"] = cell_key(spec["name"], spec["seed"])
    try:
        if _train(spec, log, record) and _evaluate(spec, log, record):
            record["status"] = "ok"
    except Exception as exc:  # a broken cell must not stop the grid; its record says why
        record.update(status="failed", stage=record.get("stage", "runner"), error=f"{type(exc).__name__}: {exc}")
    record["wall_s"] = round(time.time() - start, 2)
    record["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    return record
