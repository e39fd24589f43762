"""Evaluate one ablation cell: ``tools/test.py`` on its checkpoint, then its parameters and FLOPs; writes JSON.

Usage: python tools/ablation/evaluate.py CONFIG CHECKPOINT --work-dir DIR --out OUT.json
       [--threads N] [--flops-input H W]

``OUT.json``: ``{"metrics": {evaluator key: value}, "params": int, "params_by_part": {...},
"flops_g": float, "flops_input": [H, W]}`` (FLOPs: tools/analysis/complexity.py on a zero image of the stated
padded size, the papers' counting rules).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def plain_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Evaluator output as ``{key: float}`` (non-numeric entries left out, NaN kept as None)."""
    out: dict[str, Any] = {}
    for key, value in (metrics or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        out[key] = None if math.isnan(number) else number
    return out


def complexity(config: str, shape: tuple[int, int]) -> dict[str, Any]:
    """Parameters (total and per part) and FLOPs (G) of ``config``'s model at padded input ``shape``."""
    from tools.ablation.flops import model_complexity

    gflops, params = model_complexity(config, shape)
    return dict(params=int(params.pop("total")), params_by_part=params, flops_g=round(gflops, 4),
                flops_input=list(shape))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config")
    p.add_argument("checkpoint")
    p.add_argument("--work-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--flops-input", type=int, nargs=2, default=(128, 128), metavar=("H", "W"))
    args = p.parse_args(argv)
    import torch

    from tools import test as test_tool

    metrics = test_tool.main([args.config, args.checkpoint, "--work-dir", args.work_dir,
                              "--cfg-options", f"env_cfg.num_threads={args.threads}"])
    torch.set_num_threads(args.threads)
    result = dict(metrics=plain_metrics(metrics), **complexity(args.config, tuple(args.flops_input)))
    Path(args.out).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
