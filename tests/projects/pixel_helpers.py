"""Shared by the feature-level, pixel-decoder and matching/loss plugin tests: apply an ablation variant's
options to a base config (the runner's ``tools.ablation.variants.apply_variant``: the catalog's two rules),
build the model, and train a few toy iterations."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import torch
from mmengine.config import Config
from mmengine.utils import import_modules_from_strings

from tools.ablation.variants import apply_variant

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "engine"))  # toy_train_probes (tiny toy configs, loss recorder)
TOY_BASE = REPO / "configs/quickstart/mask2former_r18-tiny_2xb2-570s_toy-panoptic.py"
PAPER_BASE = REPO / "configs/mask2former/mask2former_r50_8xb2-lsj-50e_coco-instance.py"
BASES = {"toy": TOY_BASE, "paper": PAPER_BASE}


def build_variant(base: str, variant: dict, *, meta: bool) -> torch.nn.Module:
    """The model of ``variant`` on base ``"toy"`` / ``"paper"`` (``meta``: no weights allocated)."""
    from segformers.models.build import build_model

    import_modules_from_strings(variant["custom_imports"], allow_failed_imports=False)
    cfg = apply_variant(Config.fromfile(str(BASES[base])), variant)
    if meta:
        with torch.device("meta"):
            return build_model(cfg)
    return build_model(cfg)


def forward_toy(model: torch.nn.Module, size: int = 64) -> Any:
    """The built toy-base ``model`` on two random ``size`` x ``size`` images; checks and returns its DecoderOutput."""
    with torch.no_grad():
        out = model.eval().extract(torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0)))
    assert out.pred_masks.shape[0] == 2 and out.pred_masks.shape[-2:] == (size // 4, size // 4)
    assert all(bool(torch.isfinite(m).all()) for m in out.mask_logits)
    return out


def train_toy_variant(variant: dict, data_root: str, work_dir: Path, iters: int = 3,
                      before_train: Optional[Callable[[Any], None]] = None) -> tuple[Any, dict]:
    """Train the toy base (shrunk by ``toy_train_probes.tiny_overrides``) with ``variant`` for ``iters``
    iterations (``before_train(runner)`` first, if given); returns ``(runner, {iteration: loss})``."""
    from toy_train_probes import tiny_overrides, write_tiny_config

    from segformers.apis.runner import build_runner

    overrides = tiny_overrides(data_root, True, iters, hooks=[dict(type="LossRecorderHook")])
    overrides["custom_imports"] = dict(imports=["toy_train_probes", *variant["custom_imports"]],
                                       allow_failed_imports=False)
    cfg = Config.fromfile(write_tiny_config(str(work_dir / "tiny.py"), str(TOY_BASE), overrides))
    import_modules_from_strings(variant["custom_imports"], allow_failed_imports=False)
    cfg = apply_variant(cfg, variant)
    name = f"pixel_{variant['name']}"
    cfg.merge_from_dict(dict(work_dir=str(work_dir / "work"), experiment_name=name, visualizer=dict(name=name)))
    runner = build_runner(cfg)
    if before_train is not None:
        before_train(runner)
    runner.train()
    losses = json.loads((work_dir / "work" / "losses_rank0.json").read_text())
    assert sorted(int(k) for k in losses) == list(range(1, iters + 1))
    assert all(math.isfinite(v) and v > 0 for v in losses.values()), losses
    return runner, losses
