"""Time ResNet inference with FrozenBN folded into the convs (the default) against conv-then-norm.

Usage: python tools/analysis/bench_frozen_bn_fold.py [--depth 50] [--shape 512 512] [--runs 7] [--threads 2]

Both ways run interleaved in one process on the same weights and input (a noisy machine slows both
alike); prints the median of each, their ratio and the largest difference of the outputs.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from segformers.models.backbones.resnet import ResNet  # noqa: E402
from segformers.models.layers import Conv2dNormAct  # noqa: E402


@contextmanager
def unfolded() -> Iterator[None]:
    """Every ``Conv2dNormAct`` runs conv, then its norm (the path before folding)."""
    original = Conv2dNormAct.forward

    def conv_then_norm(self: Conv2dNormAct, x: torch.Tensor) -> torch.Tensor:
        x = self._conv_forward(x, self.weight, self.bias)
        x = x if self.norm is None else self.norm(x)
        return x if self.activation is None else self.activation(x)

    Conv2dNormAct.forward = conv_then_norm
    try:
        yield
    finally:
        Conv2dNormAct.forward = original


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=50)
    p.add_argument("--shape", type=int, nargs=2, default=[512, 512])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = ResNet(depth=args.depth).eval()
    for m in model.modules():  # non-trivial statistics, as a trained checkpoint has
        if hasattr(m, "running_var"):
            m.running_var.uniform_(0.5, 2.0)
            m.weight.uniform_(0.5, 1.5)
    x = torch.randn(1, 3, *args.shape)
    times: dict[str, list[float]] = {"folded": [], "unfolded": []}
    with torch.no_grad():
        for i in range(args.runs + 1):
            for name in ("folded", "unfolded"):
                t0 = time.perf_counter()
                if name == "folded":
                    out = model(x)
                else:
                    with unfolded():
                        ref = model(x)
                if i:  # the first round warms up
                    times[name].append(time.perf_counter() - t0)
    diff = max(float((out[k] - ref[k]).abs().max() / ref[k].abs().max()) for k in out)
    med = {k: statistics.median(v) for k, v in times.items()}
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"ResNet-{args.depth} backbone, 1x3x{args.shape[0]}x{args.shape[1]}, {args.threads} threads, "
          f"median of {args.runs}, load average {load}")
    print(f"conv then FrozenBN {med['unfolded']:.4f} s | folded {med['folded']:.4f} s | "
          f"ratio {med['unfolded'] / med['folded']:.3f} | max relative difference {diff:.2e}")


if __name__ == "__main__":
    main()
