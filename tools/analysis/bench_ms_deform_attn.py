"""Time multi-scale deformable attention, forward and forward + backward, for each implementation.

Usage: python tools/analysis/bench_ms_deform_attn.py [--threads T] [--runs N] [--dtype {float32,bfloat16}]
       [--stat {median,min}] [--clock {wall,cpu}] [--case NAME]

Cases: the quick-start pixel decoder (batch 4, 128x128 input, 4 heads of 16 channels) on its levels
res2-res4 (32x32, 16x16, 8x8) and on the former res3-res5 (16x16, 8x8, 4x4), and the official
Mask2Former R50 one on a 512x512 image (levels 16x16, 32x32, 64x64, Lq = S = 5376, 8 heads of 32
channels, 4 points). Implementations: ours ``gather`` (the CPU default) and ``grid_sample``, and
``transformers`` (its pure-PyTorch ``multi_scale_deformable_attention`` of Mask2Former; skipped with a
message when transformers is not installed, and in bf16). The implementations run one after the other in every
repetition (so a change of machine load hits them alike), after two warm-up runs; the forward runs under
``torch.no_grad()``, forward + backward on inputs that require gradients. Prints milliseconds and the
ratio transformers / ``gather`` for both; the header gives the load average (``os.getloadavg``).
``--clock cpu`` (with ``--threads 1``) times the calling thread's CPU time instead of the wall clock:
on a machine shared with other jobs it leaves out the time the process waits for a core. With more
threads than free cores, OpenMP's default spin-waiting makes every parallel op wait for a descheduled
worker, which hurts ``gather`` (~60 small ops) far more than ``transformers`` (a few large ones):
``OMP_WAIT_POLICY=PASSIVE`` in the environment keeps such a run closer to an idle machine's.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from segformers.models.layers.ms_deform_attn import ms_deform_attn  # noqa: E402

CASES = {
    "quickstart": dict(n=4, shapes=[(8, 8), (16, 16), (32, 32)], heads=4, dim=16),
    "quickstart-res3-res5": dict(n=4, shapes=[(4, 4), (8, 8), (16, 16)], heads=4, dim=16),
    "R50-512": dict(n=1, shapes=[(16, 16), (32, 32), (64, 64)], heads=8, dim=32),
}
Op = Callable[..., torch.Tensor]


def _inputs(n: int, shapes: list, heads: int, dim: int, points: int = 4,
            dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random ``value [N, S, M, D]``, ``locations [N, S, M, L, P, 2]`` in [0, 1), softmaxed weights."""
    g = torch.Generator().manual_seed(0)
    s = sum(h * w for h, w in shapes)
    value = torch.randn(n, s, heads, dim, generator=g)
    loc = torch.rand(n, s, heads, len(shapes), points, 2, generator=g)
    attn = torch.rand(n, s, heads, len(shapes), points, generator=g).softmax(-1)
    return value.to(dtype), loc.to(dtype), attn.to(dtype)


def implementations() -> dict[str, Optional[Op]]:
    """``{name: op(value, shapes, loc, attn)}``; ``transformers`` maps to None when it is not installed."""
    try:
        from transformers.models.mask2former.modeling_mask2former import multi_scale_deformable_attention
    except ImportError:
        multi_scale_deformable_attention = None
    return {
        "gather": lambda *a: ms_deform_attn(*a, impl="gather"),
        "grid_sample": lambda *a: ms_deform_attn(*a, impl="grid_sample"),
        "transformers": multi_scale_deformable_attention,
    }


def _once(op: Op, case: dict, tensors: tuple, backward: bool, clock: Callable[[], float]) -> float:
    """Seconds of one forward (no grad) or forward + backward."""
    if not backward:
        start = clock()
        with torch.no_grad():
            op(tensors[0], case["shapes"], tensors[1], tensors[2])
        return clock() - start
    value, loc, attn = (t.detach().requires_grad_(True) for t in tensors)
    start = clock()
    op(value, case["shapes"], loc, attn).sum().backward()
    return clock() - start


def time_case(case: dict, ops: dict[str, Op], runs: int, dtype: torch.dtype, stat: Callable,
              clock: Callable[[], float] = time.perf_counter) -> dict:
    """``{(name, backward): seconds}``, the implementations interleaved in every repetition."""
    tensors = _inputs(**case, dtype=dtype)
    times: dict = {(name, bwd): [] for name in ops for bwd in (False, True)}
    for rep in range(runs + 2):
        for (name, bwd), samples in times.items():
            seconds = _once(ops[name], case, tensors, bwd, clock)
            if rep >= 2:
                samples.append(seconds)
    return {key: stat(samples) for key, samples in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--stat", choices=["median", "min"], default="median",
                        help="statistic over the runs (min is steadier on a loaded machine)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="cpu: the calling thread's CPU time (only with --threads 1)")
    parser.add_argument("--case", choices=sorted(CASES), action="append",
                        help="only these cases (repeatable; default: all)")
    args = parser.parse_args()
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu times one thread: use it with --threads 1 (or use --clock wall)")
    torch.set_num_threads(args.threads)
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    ops = implementations()
    if ops["transformers"] is None:
        print("transformers is not installed: its case is skipped (pip install transformers to compare)")
        del ops["transformers"]
    elif args.dtype != "float32":
        print("transformers' case runs in float32 only: its grid_sample on bf16 grids can crash on CPU "
              "(a segfault in torch 2.13), so it is skipped")
        del ops["transformers"]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"threads={args.threads}, {args.dtype}, {args.stat} of {args.runs} runs, {args.clock} ms, "
          f"load average {load}")
    stat = statistics.median if args.stat == "median" else min
    for label in args.case or CASES:
        row = time_case(CASES[label], ops, args.runs, getattr(torch, args.dtype), stat, clock)
        for bwd, part in ((False, "forward"), (True, "fwd+bwd")):
            cells = "  ".join(f"{name} {row[name, bwd] * 1e3:8.2f}" for name in ops)
            ratio = f"  transformers/gather {row['transformers', bwd] / row['gather', bwd]:5.2f}x" if (
                "transformers" in ops) else ""
            print(f"{label:22s} {part:8s} {cells}{ratio}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
