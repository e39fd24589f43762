"""Peak memory of mask-based vs point-based matching and loss (Mask2Former Table 5's memory claim), on CPU.

Usage:
    python tools/analysis/bench_loss_memory.py [--config CFG] [--size S] [--criterion-size S] [--targets N]
        [--batch B] [--parts criterion step] [--modes point/point mask/mask ...] [--threads T] [--json OUT]

A mode is ``MATCH/LOSS``, each ``point`` (the config's ``num_points``) or ``mask`` (``num_points=None``:
whole masks). Two parts, each mode and part in a fresh subprocess so that its high-water mark is its own:

* ``criterion``: the set criterion alone (matching + losses of every prediction set, then backward) on
  random decoder outputs of the config's sizes (queries, ``dec_layers + 1`` sets, masks at 1/4) for a
  ``--criterion-size`` square image (default 1024, the paper's LSJ crop);
* ``step``: one training step of the whole model (forward, matching, losses, backward) on a ``--size``
  square image (default 512).

Memory: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (resident high-water mark; ``tracemalloc`` does not see
torch's allocations) after the step minus the resident size just before it (``/proc/self/statm``): the peak
extra memory of the step. A warm-up call on a 64x64 image with one target comes first (lazy imports, thread
pools), below the measured peak. ``reliable`` is false when the step did not raise the process's high-water mark
(then the figure is a lower bound). Ground truth: ``--targets`` random rectangles per image, labels random.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DEFAULT_CONFIG = "configs/_base_/models/mask2former_r50.py"
MODES = ("point/point", "point/mask", "mask/point", "mask/mask")
PARTS = ("criterion", "step")


def resident_bytes() -> int:
    """Current resident set size of this process (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def high_water_bytes() -> int:
    """Peak resident set size of this process so far (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def model_config(config: str, mode: str) -> Any:
    """``config``'s model dict with the matcher's / criterion's ``num_points`` set for ``mode``."""
    from segformers.apis import load_config

    match, loss = mode.split("/")
    if {match, loss} - {"point", "mask"}:
        raise ValueError(f"mode must be MATCH/LOSS with each 'point' or 'mask', got {mode!r}")
    cfg = load_config(str(ROOT / config) if not Path(config).is_absolute() else config)
    if match == "mask":
        cfg.model.criterion.matcher.num_points = None
    if loss == "mask":
        cfg.model.criterion.num_points = None
    return cfg.model


def random_targets(batch: int, num: int, size: int, num_classes: int, seed: int = 0) -> list:
    """``batch`` :class:`Targets` of ``num`` random rectangles (each 1/8 to 1/2 of the side) at ``size`` x ``size``."""
    from segformers.structures import Targets

    g = torch.Generator().manual_seed(seed)
    targets = []
    for _ in range(batch):
        masks = torch.zeros(num, size, size, dtype=torch.bool)
        for m in masks:
            h, w = (int(v) for v in torch.randint(size // 8, size // 2, (2,), generator=g))
            y, x = (int(v) for v in torch.randint(0, size - max(h, w), (2,), generator=g))
            m[y:y + h, x:x + w] = True
        targets.append(Targets(torch.randint(0, num_classes, (num,), generator=g), masks))
    return targets


def criterion_run(model_cfg: Any, size: int, batch: int, num: int) -> tuple:
    """(run, description) for the criterion alone on random decoder outputs."""
    from segformers.registry import CRITERIA
    from segformers.structures import DecoderOutput

    criterion = CRITERIA.build(model_cfg.criterion, default_args=dict(num_classes=model_cfg.num_classes))
    dec = model_cfg.transformer_decoder
    sets, queries = dec.get("dec_layers", 9) + 1, dec.get("num_queries", 100)
    g = torch.Generator().manual_seed(1)
    num_logits = model_cfg.num_classes + 1
    classes = [torch.randn(batch, queries, num_logits, generator=g).requires_grad_() for _ in range(sets)]
    masks = [torch.randn(batch, queries, size // 4, size // 4, generator=g).requires_grad_() for _ in range(sets)]
    targets = random_targets(batch, num, size, model_cfg.num_classes)

    def run() -> float:
        losses = criterion(DecoderOutput(classes, masks), targets)
        total = sum(losses.values())
        total.backward()
        return float(total)

    return run, f"criterion: {sets} sets x {queries} queries, masks {size // 4}x{size // 4}, image {size}x{size}"


def step_run(model_cfg: Any, size: int, batch: int, num: int) -> tuple:
    """(run, description) for one training step of the whole model."""
    from segformers.registry import MODELS
    from segformers.structures import SegDataSample

    model = MODELS.build(model_cfg).train()
    images = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(1))
    samples = [SegDataSample(gt=t) for t in random_targets(batch, num, size, model_cfg.num_classes)]

    def run() -> float:
        total = sum(model.loss(images, samples).values())
        total.backward()
        return float(total)

    backbone = f"{model_cfg.backbone.type}{model_cfg.backbone.get('depth', '')}"
    return run, f"step: {backbone} training step, image {size}x{size}"


def child(args: argparse.Namespace) -> dict:
    """One measurement in this (fresh) process."""
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    model_cfg = model_config(args.config, args.mode)
    make = criterion_run if args.part == "criterion" else step_run
    size = args.criterion_size if args.part == "criterion" else args.size
    warm_up, _ = make(model_cfg, 64, 1, 1)
    warm_up()  # lazy imports, thread pools and allocator set-up happen here, below the measured peak
    run, what = make(model_cfg, size, args.batch, args.targets)
    gc.collect()
    before, high_before = resident_bytes(), high_water_bytes()
    start = time.perf_counter()
    loss = run()
    seconds = time.perf_counter() - start
    high_after = high_water_bytes()
    return dict(part=args.part, mode=args.mode, what=what, batch=args.batch, targets=args.targets,
                peak_extra_mb=round((high_after - before) / 2**20, 1), resident_before_mb=round(before / 2**20, 1),
                reliable=high_after > high_before, seconds=round(seconds, 2), loss=round(loss, 4))


def measure(args: argparse.Namespace, part: str, mode: str) -> dict:
    """Run :func:`child` for ``part`` / ``mode`` in a fresh interpreter and return its result."""
    cmd = [sys.executable, __file__, "--child", "--part", part, "--mode", mode, "--config", args.config,
           "--size", str(args.size), "--criterion-size", str(args.criterion_size), "--targets", str(args.targets),
           "--batch", str(args.batch), "--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(f"{part} {mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def format_table(results: list[dict]) -> str:
    """Markdown table: peak extra memory per part and mode, and its ratio to point/point of the same part."""
    base = {r["part"]: r["peak_extra_mb"] for r in results if r["mode"] == "point/point"}
    lines = ["| part | matching / loss | peak extra memory (MB) | x point/point | seconds | reliable |",
             "|---|---|---:|---:|---:|---|"]
    for r in results:
        ratio = f"{r['peak_extra_mb'] / base[r['part']]:.2f}" if base.get(r["part"]) else "-"
        lines.append(f"| {r['part']} | {r['mode']} | {r['peak_extra_mb']:.0f} | {ratio} | {r['seconds']:.1f} | "
                     f"{r['reliable']} |")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--size", type=int, default=512, help="image side of the whole training step")
    parser.add_argument("--criterion-size", type=int, default=1024, help="image side of the criterion-only run")
    parser.add_argument("--targets", type=int, default=10, help="ground-truth segments per image")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return
    results = []
    for part in args.parts:
        for mode in args.modes:
            results.append(measure(args, part, mode))
            print(json.dumps(results[-1]), flush=True)
    print(format_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
