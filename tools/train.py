"""Train a model with mmengine's Runner.

Usage: python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT] [--allow-fresh-start]] [--amp]
       [--allow-partial-checkpoint] [--skip-bad-images] [--cfg-options k=v ...] [--launcher {none,pytorch,slurm}]
Multi-process: tools/dist_train.sh CONFIG NUM_PROCS [args...] (torchrun; gloo on CPU, nccl on GPU).

``--resume`` without a checkpoint to continue from is an error (a mistyped work dir would otherwise train
from scratch); ``load_from`` must fit the model unless ``--allow-partial-checkpoint`` (docs/reliability.md).
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
from segformers.engine.checkpoint_fit import add_checkpoint_fit_hook, resume_checkpoint  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Train a segformers model.")
    p.add_argument("config")
    p.add_argument("--work-dir", help="where logs, scalars and checkpoints go (default work_dirs/<config>)")
    p.add_argument("--resume", nargs="?", const="auto", default=None,
                   help="resume from CKPT, or from the latest checkpoint in the work dir when no path is given "
                        "(an error if there is none)")
    p.add_argument("--allow-fresh-start", action="store_true",
                   help="with --resume: train from scratch when the work dir holds no checkpoint yet (requeued jobs)")
    p.add_argument("--allow-partial-checkpoint", action="store_true",
                   help="load a load_from checkpoint that does not fit the model (fine-tuning): the weights that "
                        "fit are loaded, the others keep their initialisation; by default such a checkpoint is "
                        "refused, listing the keys")
    p.add_argument("--skip-bad-images", action="store_true",
                   help="log and skip training images that cannot be decoded (by default they stop training, "
                        "naming the file)")
    p.add_argument("--amp", action="store_true", help="mixed precision (fp16 on CUDA, bf16 on CPU)")
    p.add_argument("--amp-dtype", choices=["float16", "bfloat16"], help="override the AMP dtype")
    p.add_argument("--cfg-options", nargs="+", action=DictAction, help="override config entries, key=value")
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm"], default="none")
    p.add_argument("--local_rank", "--local-rank", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.allow_fresh_start and args.resume is None:
        p.error("--allow-fresh-start only applies with --resume")
    return args


def skip_bad_images(cfg: Config) -> int:
    """Set ``skip_bad_images=True`` on every ``LoadImageFromFile`` of the training dataloader; returns how many."""
    found = 0

    def visit(node: object) -> None:
        nonlocal found
        if isinstance(node, dict):
            if node.get("type") == "LoadImageFromFile":
                node["skip_bad_images"] = True
                found += 1
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(cfg.get("train_dataloader"))
    if not found:
        raise ValueError("--skip-bad-images: the train_dataloader's pipeline has no LoadImageFromFile step to set.")
    return found


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    apply_common_flags(cfg, args.config, args.work_dir, args.launcher, args.cfg_options)
    resume = args.resume
    if resume is None and cfg.get("resume"):  # resume=True in the config itself
        resume = cfg.get("load_from") or "auto"
    if resume is not None:
        found = resume_checkpoint(cfg.work_dir, None if resume == "auto" else resume, args.allow_fresh_start)
        if found is None:
            cfg.resume = False
        else:
            apply_resume(cfg, found)
    require_pretrained_backbone(cfg.model)  # before the Runner reads any data
    add_checkpoint_fit_hook(cfg, args.allow_partial_checkpoint)
    if args.skip_bad_images:
        skip_bad_images(cfg)
    if args.amp or args.amp_dtype:
        from segformers.engine import enable_amp

        enable_amp(cfg, args.amp_dtype)
    setup_distributed(cfg)
    build_runner(cfg).train()


if __name__ == "__main__":
    main()
