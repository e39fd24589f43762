"""Run a grid: prepare the data, skip finished cells, run the rest with an executor, show progress, and
write ``results.jsonl``, ``table.md`` and ``plot.png`` in the grid's work dir."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

from .cells import cell_spec, make_cells
from .executors import run_cells, threads_per_cell
from .grid import Grid
from .plot import write_plot
from .results import append_record, finished_keys, read_records
from .table import build_table
from .variants import REPO


def prepare_data(grid: Grid) -> None:
    """Run the grid's ``data.command`` when ``data.check`` is missing; fail with the command if it fails."""
    check, command = grid.data.get("check"), grid.data.get("command")
    if not check or Path(check).exists():
        return
    if not command:
        raise FileNotFoundError(f"grid {grid.path}: the data file {check} is missing and the grid gives no "
                                "data.command to write it.")
    print(f"[ablate] {check} is missing: running {command}", flush=True)
    argv = shlex.split(command)
    if argv and argv[0] == "python":
        argv[0] = sys.executable
    if subprocess.run(argv).returncode != 0 or not Path(check).exists():
        raise RuntimeError(f"Preparing the data failed; run it yourself from the repository root: {command}")


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


class Progress:
    """Prints one line per finished cell: done / left, elapsed, and an estimate of the time left."""

    def __init__(self, total: int, skipped: int, parallel: int) -> None:
        self.total, self.done, self.parallel = total, skipped, max(1, parallel)
        self.start, self.walls = time.time(), []

    def __call__(self, record: dict[str, Any]) -> None:
        self.done += 1
        self.walls.append(float(record.get("wall_s") or 0.0))
        left = self.total - self.done
        elapsed = time.time() - self.start
        eta = sum(self.walls) / len(self.walls) * left / self.parallel
        extra = ""
        if record.get("status") != "ok":
            extra = f" ({record.get('stage')}: see {record.get('work_dir')}/cell.log)"
        print(f"[ablate] {self.done}/{self.total} done, {left} left | {record['key']}: {record.get('status')}"
              f"{extra} in {_clock(record.get('wall_s') or 0)} | elapsed {_clock(elapsed)}, "
              f"estimate {_clock(eta)} left", flush=True)


def write_outputs(work_dir: str, baseline: str, note: str = "") -> tuple[Path, Optional[str]]:
    """``table.md`` and ``plot.png`` from ``results.jsonl``; returns the table path and the plot's note."""
    records = read_records(work_dir)
    plot_note = write_plot(records, baseline, Path(work_dir) / "plot.png")
    text = build_table(records, baseline, note)
    if plot_note:
        text += f"\n{plot_note}\n"
    path = Path(work_dir) / "table.md"
    path.write_text(text)
    return path, plot_note


def grid_note(grid: Grid) -> str:
    budget = ", ".join(f"{k} {v:g}" for k, v in grid.budget.items())
    images = "all test images" if grid.eval_images is None else f"the first {grid.eval_images} test images"
    return (f"Grid `{grid.path}` on base `{grid.base}`: seeds {grid.seeds}, training budget {budget} per cell, "
            f"evaluated on {images}; FLOPs at a {grid.flops_input[0]}x{grid.flops_input[1]} input.")


def run_grid(grid: Grid, executor: str = "local", jobs: int = 1) -> list[dict[str, Any]]:
    """Run every unfinished cell of ``grid``; returns the records of this invocation."""
    if grid.missing:
        raise ValueError(f"grid {grid.path}: variants {grid.missing} are not in the catalog (--dry-run lists "
                         "them); add their plugins or leave them out with --only.")
    prepare_data(grid)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(
        os.pathsep) if p and p != str(REPO)])  # submitit's job processes import tools.ablation
    Path(grid.work_dir).mkdir(parents=True, exist_ok=True)
    cells = make_cells(grid)
    done = finished_keys(read_records(grid.work_dir))
    todo = [c for c in cells if c.key not in done]
    threads = threads_per_cell(executor, jobs, grid.executor)
    print(f"[ablate] {len(cells)} cells ({len(cells) - len(todo)} finished before, skipped), executor {executor}"
          f"{f' x{jobs}' if executor == 'local-parallel' else ''}, {threads} thread(s) per cell, "
          f"work dir {grid.work_dir}", flush=True)
    progress = Progress(len(cells), len(cells) - len(todo), jobs if executor != "local" else 1)
    new: list[dict[str, Any]] = []

    def on_done(record: dict[str, Any]) -> None:
        append_record(grid.work_dir, record)
        new.append(record)
        progress(record)

    specs = [cell_spec(c, grid, threads) for c in todo]
    folder = Path(grid.executor.get("folder") or Path(grid.work_dir) / "submitit")
    run_cells(executor, specs, on_done, jobs, grid.executor, folder)
    print(f"[ablate] {len(new)} cell(s) run in {_clock(time.time() - progress.start)}", flush=True)
    table, note = write_outputs(grid.work_dir, grid.baseline, grid_note(grid))
    print(f"[ablate] wrote {table}" + (f"; {note}" if note else f" and {table.parent / 'plot.png'}"), flush=True)
    return new
