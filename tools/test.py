"""Evaluate a checkpoint with mmengine's Runner (the config's test_dataloader and test_evaluator).

Usage: python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--allow-partial-checkpoint]
       [--cfg-options k=v ...] [--launcher {none,pytorch,slurm}] [--tta] [--amp]

``--amp``: the test loop under autocast (bf16 on CPU, fp16 on CUDA; mmengine's ``test_cfg.fp16``); the
model keeps its float32 islands (deformable sampling, normalisation statistics, the postprocessor's scores).

A checkpoint that does not fit the config's model (missing, unexpected or shape-mismatched keys) is
refused with the keys listed, unless ``--allow-partial-checkpoint`` (docs/reliability.md).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from mmengine.config import Config, DictAction

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segformers.apis.runner import apply_common_flags, build_runner, setup_distributed  # noqa: E402
from segformers.engine.amp import warn_if_bf16_emulated  # noqa: E402
from segformers.engine.checkpoint_fit import add_checkpoint_fit_hook  # noqa: E402

TTA_DATASETS = "configs/_base_/datasets/{ade20k,ade20k_640,cityscapes_semantic,coco_stuff10k,mapillary_semantic}.py"


def use_tta(cfg: Config) -> Config:
    """``--tta``: the test loader reads ``cfg.tta_pipeline`` (one batch per view) and ``cfg.tta_model``
    (default ``SemanticTTAModel``) wraps the model and merges the views (mmdetection's recipe)."""
    if not cfg.get("tta_pipeline"):
        raise ValueError(f"--tta: the config has no tta_pipeline. The official multi-scale + flip protocols are the "
                         f"semantic datasets' ({TTA_DATASETS}); define tta_pipeline with a TestTimeAug step likewise.")
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.model = dict(cfg.get("tta_model") or dict(type="SemanticTTAModel"), module=cfg.model)
    return cfg


def use_amp(cfg: Config) -> Config:
    """``--amp``: mmengine's ``TestLoop(fp16=True)`` (its autocast: bf16 on CPU, fp16 on CUDA)."""
    loop = cfg.get("test_cfg") or {}
    if loop.get("type", "TestLoop") != "TestLoop":
        raise ValueError(f"--amp sets TestLoop's fp16 option, but the config's test_cfg is {loop.get('type')}; "
                         "add the autocast to that loop instead.")
    cfg.test_cfg = dict(loop, type="TestLoop", fp16=True)
    if not torch.cuda.is_available():
        warn_if_bf16_emulated("cpu", "tools/test.py --amp")
    return cfg


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description="Evaluate a segformers checkpoint.")
    p.add_argument("config")
    p.add_argument("checkpoint")
    p.add_argument("--work-dir")
    p.add_argument("--allow-partial-checkpoint", action="store_true",
                   help="evaluate a checkpoint that does not fit the model: its weights that fit are loaded, the "
                        "others keep their random initialisation (by default refused, listing the keys)")
    p.add_argument("--cfg-options", nargs="+", action=DictAction)
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm"], default="none")
    p.add_argument("--local_rank", "--local-rank", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--tta", action="store_true", help="multi-scale + flip test: the config's tta_pipeline / tta_model")
    p.add_argument("--amp", action="store_true", help="mixed precision: bf16 autocast on CPU, fp16 on CUDA")
    args = p.parse_args(argv)
    cfg = Config.fromfile(args.config)
    apply_common_flags(cfg, args.config, args.work_dir, args.launcher, args.cfg_options)
    if "://" not in args.checkpoint and not Path(args.checkpoint).is_file():
        p.error(f"checkpoint {args.checkpoint} does not exist")
    cfg.load_from = args.checkpoint
    if args.tta:
        use_tta(cfg)
    if args.amp:
        use_amp(cfg)
    add_checkpoint_fit_hook(cfg, args.allow_partial_checkpoint)
    setup_distributed(cfg)
    return build_runner(cfg, loader="test_dataloader").test()


if __name__ == "__main__":
    main()
