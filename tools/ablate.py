"""Run an ablation grid (variants x seeds) through tools/train.py and tools/test.py; write the table.

Usage:
    python tools/ablate.py GRID [--executor {local,local-parallel,slurm}] [--jobs N] [--only NAME[,NAME]]
                           [--work-dir DIR] [--dry-run | --table-only]
    python tools/ablate.py --flops-table [--shape H W] [--only NAME[,NAME]]

Outputs in the grid's work dir: ``results.jsonl`` (one record per cell), ``table.md``, ``plot.png`` and
``cells/<variant>/seed<k>/`` (config.py, logs, checkpoints). A second invocation skips finished cells and
resumes interrupted ones. docs/ablations.md has the grid-file reference.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tools.ablation.grid import EXECUTORS, Grid, load_grid, select  # noqa: E402


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("grid", nargs="?", help="grid file (e.g. configs/ablations/toy_grid.py)")
    p.add_argument("--executor", choices=EXECUTORS, help="default: the grid's executor.type, else local")
    p.add_argument("--jobs", type=int, help="local-parallel: cells at once (default: the grid's executor.jobs, else 2)")
    p.add_argument("--only", help="comma-separated variant names: run / show only these")
    p.add_argument("--work-dir", help="override the grid's work_dir")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the cells and their key overrides, run nothing")
    mode.add_argument("--table-only", action="store_true", help="rebuild table.md and plot.png from results.jsonl")
    mode.add_argument("--flops-table", action="store_true",
                      help="FLOPs of every catalog variant with a paper figure on the paper base, as markdown")
    p.add_argument("--shape", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="--flops-table: padded input (default 800 1216)")
    args = p.parse_args(argv)
    if args.grid is None and not args.flops_table:
        p.error("GRID is required (except with --flops-table)")
    if args.jobs is not None and args.jobs < 1:
        p.error("--jobs must be >= 1")
    return args


def dry_run(grid: Grid) -> None:
    """Print every cell and each variant's resolved overrides; report catalog names that do not exist."""
    from tools.ablation.cells import make_cells
    from tools.ablation.variants import resolve_references
    from mmengine.config import Config

    base = Config.fromfile(grid.base)
    cells = make_cells(grid, write=False)
    print(f"grid {grid.path}: base {grid.base}, {len(cells)} cells = {len(grid.variants)} variants x seeds "
          f"{grid.seeds}, budget {grid.budget}, eval_images {grid.eval_images}, work dir {grid.work_dir}")
    for variant in grid.variants:
        options = resolve_references(variant["options"], base, variant["name"])
        where = variant.get("config") or grid.base
        print(f"  {variant['name']:<26} tables {','.join(variant['table']):<18} from {variant['source']}")
        print(f"      config {where}; custom_imports {variant['custom_imports'] or '[]'}")
        for key, value in {**options, **grid.options}.items():
            print(f"      {key} = {json.dumps(value, default=str)}")
    if grid.missing:
        print(f"MISSING from the catalog (no projects/*/ablation_variants.py defines them; these cells cannot "
              f"run yet): {', '.join(grid.missing)}")


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    only = [n for n in (args.only or "").split(",") if n]
    if args.flops_table:
        from tools.ablation.flops import flops_table, format_flops_table

        kwargs = {} if args.shape is None else dict(shape=tuple(args.shape))
        print(format_flops_table(flops_table(only=only or None, **kwargs)))
        return 0
    grid = select(load_grid(args.grid, allow_missing=True), only)  # run_grid refuses what is still missing
    if args.work_dir:
        grid.work_dir = args.work_dir
    if args.dry_run:
        dry_run(grid)
        return 0
    from tools.ablation.study import grid_note, run_grid, write_outputs

    if args.table_only:
        path, note = write_outputs(grid.work_dir, grid.baseline, grid_note(grid))
        print(f"wrote {path}" + (f"; {note}" if note else ""))
        return 0
    executor = args.executor or grid.executor.get("type", "local")
    jobs = args.jobs or int(grid.executor.get("jobs", 2))
    records = run_grid(grid, executor, jobs)
    failed = [r["key"] for r in records if r.get("status") != "ok"]
    if failed:
        print(f"[ablate] {len(failed)} cell(s) failed: {', '.join(failed)}; run the same command again to retry "
              "them (finished cells are skipped)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
