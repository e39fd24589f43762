"""Evaluate a checkpoint with mmengine's Runner (the config's test_dataloader and test_evaluator).

Usage: python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options k=v ...]
       [--launcher {none,pytorch,slurm}]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmengine.config import Config, DictAction

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segformers.apis.runner import apply_common_flags, build_runner, setup_distributed  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description="Evaluate a segformers checkpoint.")
    p.add_argument("config")
    p.add_argument("checkpoint")
    p.add_argument("--work-dir")
    p.add_argument("--cfg-options", nargs="+", action=DictAction)
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm"], default="none")
    p.add_argument("--local_rank", "--local-rank", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    cfg = Config.fromfile(args.config)
    apply_common_flags(cfg, args.config, args.work_dir, args.launcher, args.cfg_options)
    cfg.load_from = args.checkpoint
    setup_distributed(cfg)
    return build_runner(cfg, loader="test_dataloader").test()


if __name__ == "__main__":
    main()
