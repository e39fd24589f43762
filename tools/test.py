"""Evaluate a checkpoint with mmengine's Runner (the config's test_dataloader and test_evaluator).

Usage: python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options k=v ...]
       [--launcher {none,pytorch,slurm}] [--tta]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmengine.config import Config, DictAction

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segformers.apis.runner import apply_common_flags, build_runner, setup_distributed  # noqa: E402

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


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description="Evaluate a segformers checkpoint.")
    p.add_argument("config")
    p.add_argument("checkpoint")
    p.add_argument("--work-dir")
    p.add_argument("--cfg-options", nargs="+", action=DictAction)
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm"], default="none")
    p.add_argument("--local_rank", "--local-rank", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--tta", action="store_true", help="multi-scale + flip test: the config's tta_pipeline / tta_model")
    args = p.parse_args(argv)
    cfg = Config.fromfile(args.config)
    apply_common_flags(cfg, args.config, args.work_dir, args.launcher, args.cfg_options)
    cfg.load_from = args.checkpoint
    if args.tta:
        use_tta(cfg)
    setup_distributed(cfg)
    return build_runner(cfg, loader="test_dataloader").test()


if __name__ == "__main__":
    main()
