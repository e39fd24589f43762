"""Time one optimizer step (gradient clipping + AdamW) of a config's model, per parameter-group layout.

Usage:
    python tools/analysis/bench_optimizer.py CONFIG [--threads T] [--runs N]

Builds the config's ``optim_wrapper`` four ways: ``paramwise_cfg.merge_groups`` True (one group per
distinct lr / weight decay) or False (one group per parameter, the official layout), each with
``fused`` True and False, puts the same random gradients on the model and reports the median time of
``OptimWrapper.step`` (clipping as configured, then ``optimizer.step``).
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def time_step(cfg, merge: bool, fused: bool, runs: int) -> tuple[int, float]:  # noqa: ANN001
    """(number of groups, median seconds of one step) for one layout."""
    from mmengine.optim import build_optim_wrapper

    from segformers.registry import MODELS

    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    wrapper_cfg.setdefault("paramwise_cfg", {})["merge_groups"] = merge
    wrapper_cfg["optimizer"]["fused"] = fused
    wrapper = build_optim_wrapper(model, wrapper_cfg)
    for p in model.parameters():
        p.grad = torch.randn_like(p) if p.requires_grad else None
    times = []
    for _ in range(runs + 3):
        t0 = time.perf_counter()
        wrapper.step()
        times.append(time.perf_counter() - t0)
    return len(wrapper.optimizer.param_groups), statistics.median(times[3:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=30)
    args = p.parse_args()
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import segformers.engine  # noqa: F401  (registers the optimizer constructor)
    import segformers.models  # noqa: F401

    torch.set_num_threads(args.threads)
    init_default_scope("segformers")
    cfg = Config.fromfile(args.config)
    print(f"config {args.config}  threads {args.threads}  torch {torch.__version__}  median of {args.runs}")
    print(f"{'merge_groups':>12} {'fused':>6} {'groups':>7} {'ms / step':>10}")
    for merge in (False, True):
        for fused in (False, True):
            n, t = time_step(cfg, merge, fused, args.runs)
            print(f"{str(merge):>12} {str(fused):>6} {n:>7} {t * 1000:>10.1f}")


if __name__ == "__main__":
    main()
