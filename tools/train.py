"""Train a model with mmengine's Runner.

Usage: python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--cfg-options k=v ...]
       [--launcher {none,pytorch,slurm}]
Multi-process: tools/dist_train.sh CONFIG NUM_PROCS [args...] (torchrun; gloo on CPU, nccl on GPU).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmengine.config import Config, DictAction

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segformers.apis.runner import (  # noqa: E402
    apply_common_flags, apply_resume, build_runner, setup_distributed,
)
from segformers.models.backbones.pretrained_files import require_pretrained_backbone  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Train a segformers model.")
    p.add_argument("config")
    p.add_argument("--work-dir", help="where logs, scalars and checkpoints go (default work_dirs/<config>)")
    p.add_argument("--resume", nargs="?", const="auto", default=None,
                   help="resume from CKPT, or from the latest checkpoint in the work dir when no path is given")
    p.add_argument("--amp", action="store_true", help="mixed precision (fp16 on CUDA, bf16 on CPU)")
    p.add_argument("--amp-dtype", choices=["float16", "bfloat16"], help="override the AMP dtype")
    p.add_argument("--cfg-options", nargs="+", action=DictAction, help="override config entries, key=value")
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm"], default="none")
    p.add_argument("--local_rank", "--local-rank", type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    apply_common_flags(cfg, args.config, args.work_dir, args.launcher, args.cfg_options)
    apply_resume(cfg, args.resume)
    require_pretrained_backbone(cfg.model)  # before the Runner reads any data
    if args.amp or args.amp_dtype:
        from segformers.engine import enable_amp

        enable_amp(cfg, args.amp_dtype)
    setup_distributed(cfg)
    build_runner(cfg).train()


if __name__ == "__main__":
    main()
