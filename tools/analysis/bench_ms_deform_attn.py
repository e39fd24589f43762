"""Time multi-scale deformable attention, forward + backward, for each implementation.

Usage: python tools/analysis/bench_ms_deform_attn.py [--threads T] [--runs N] [--dtype {float32,bfloat16}]

Cases: the quick-start pixel decoder (batch 4, 128x128 input, 4 heads of 16 channels) on its levels
res2-res4 (32x32, 16x16, 8x8) and on the former res3-res5 (16x16, 8x8, 4x4), and the official
Mask2Former R50 one on a 512x512 image (levels 16x16, 32x32, 64x64, 8 heads of 32 channels).
Implementations: ``gather`` (``embedding_bag`` forward, our backward with the corner layout),
``gather-flat`` (our backward sorting every tap, without the layout), ``gather-eb`` (the same forward
with ``embedding_bag``'s own backward) and ``grid_sample``. Prints the median time in
milliseconds after two warm-up runs.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from unittest import mock

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from segformers.models.layers import ms_deform_attn as msda  # noqa: E402
from segformers.models.layers.weighted_gather import weighted_gather  # noqa: E402

CASES = {
    "quickstart (N=4, 128x128, res2-res4)": dict(n=4, shapes=[(8, 8), (16, 16), (32, 32)], heads=4, dim=16),
    "quickstart before (N=4, 128x128, res3-res5)": dict(n=4, shapes=[(4, 4), (8, 8), (16, 16)], heads=4, dim=16),
    "R50 (N=1, 512x512)": dict(n=1, shapes=[(16, 16), (32, 32), (64, 64)], heads=8, dim=32),
}


def _inputs(n: int, shapes: list, heads: int, dim: int, points: int = 4,  # noqa: ANN202
            dtype: torch.dtype = torch.float32):
    g = torch.Generator().manual_seed(0)
    s = sum(h * w for h, w in shapes)
    value = torch.randn(n, s, heads, dim, generator=g)
    loc = torch.rand(n, s, heads, len(shapes), points, 2, generator=g)
    attn = torch.rand(n, s, heads, len(shapes), points, generator=g).softmax(-1)
    return value.to(dtype), loc.to(dtype), attn.to(dtype)


def _plain_embedding_bag(index, table, weights, layout=None):  # noqa: ANN001, ANN202
    """``weighted_gather`` with autograd's own ``embedding_bag`` backward (the ``gather-eb`` case)."""
    return F.embedding_bag(index, table, per_sample_weights=weights, mode="sum")


def _flat_gather(index, table, weights, layout=None):  # noqa: ANN001, ANN202
    """``weighted_gather`` without the corner layout (the ``gather-flat`` case)."""
    return weighted_gather(index, table, weights)


def time_case(case: dict, impl: str, runs: int, dtype: torch.dtype = torch.float32) -> float:
    """Median seconds of one forward + backward."""
    value, loc, attn = (t.requires_grad_(True) for t in _inputs(**case, dtype=dtype))
    name = "grid_sample" if impl == "grid_sample" else "gather"
    replacement = {"gather-eb": _plain_embedding_bag, "gather-flat": _flat_gather}.get(impl)
    times = []
    with mock.patch.object(msda, "weighted_gather", replacement) if replacement else nullcontext():
        for _ in range(runs + 2):
            start = time.perf_counter()
            msda.ms_deform_attn(value, case["shapes"], loc, attn, impl=name).sum().backward()
            times.append(time.perf_counter() - start)
    return statistics.median(times[2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    print(f"threads={args.threads}, {args.dtype}, median of {args.runs} runs, forward + backward in ms")
    for label, case in CASES.items():
        impls = ("gather", "gather-flat", "gather-eb", "grid_sample")
        row = {impl: time_case(case, impl, args.runs, dtype) * 1e3 for impl in impls}
        print(f"{label:28s} " + "  ".join(f"{k} {v:8.2f}" for k, v in row.items()))


if __name__ == "__main__":
    main()
