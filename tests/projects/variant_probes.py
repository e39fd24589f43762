"""Helpers of the project-plugin tests: build catalog variants on the two ablation bases (with the runner's
``tools.ablation.variants.apply_variant``, the catalog's rules), run a built toy model, and train a project
config or a toy-base variant a few iterations on tiny toy data (through ``tests/engine/toy_train_probes``)."""
from __future__ import annotations

import json
import math
import runpy
import sys
from pathlib import Path
from typing import Any, Union

import torch
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "engine"))  # toy_train_probes (its hooks register on import)

from toy_train_probes import make_toy_data, tiny_overrides, write_tiny_config  # noqa: E402

from segformers.apis.runner import build_runner  # noqa: E402
from segformers.models.build import build_model  # noqa: E402
from tools.ablation.variants import apply_variant  # noqa: E402

TOY_BASE = REPO / "configs" / "quickstart" / "mask2former_r18-tiny_2xb2-570s_toy-panoptic.py"
PAPER_BASE = REPO / "configs" / "mask2former" / "mask2former_r50_8xb2-lsj-50e_coco-instance.py"
BASES = {"toy": TOY_BASE, "paper": PAPER_BASE}

__all__ = ["REPO", "TOY_BASE", "PAPER_BASE", "make_toy_data", "load_variants", "build_variant", "forward_toy",
           "train_toy", "train_toy_variant"]


def load_variants(project: str) -> list[dict]:
    """``VARIANTS`` of ``projects/<project>/ablation_variants.py``."""
    return list(runpy.run_path(str(REPO / "projects" / project / "ablation_variants.py"))["VARIANTS"])


def build_variant(base: Union[str, Path], variant: dict, meta: bool = True) -> torch.nn.Module:
    """The model of ``variant`` on ``base`` (``"toy"``, ``"paper"`` or a config path), on the meta device
    unless ``meta=False``."""
    cfg = apply_variant(Config.fromfile(str(BASES.get(base, base))), variant)
    if not meta:
        return build_model(cfg)
    with torch.device("meta"):
        return build_model(cfg)


def forward_toy(model: torch.nn.Module, size: int = 64) -> Any:
    """The built toy-base ``model`` on two random ``size`` x ``size`` images; checks and returns its DecoderOutput."""
    with torch.no_grad():
        out = model.eval().extract(torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0)))
    assert out.pred_masks.shape[0] == 2 and out.pred_masks.shape[-2:] == (size // 4, size // 4)
    assert all(bool(torch.isfinite(m).all()) for m in out.mask_logits)
    return out


def _train(cfg: Config, work_dir: Path, name: str, iters: int, part: str) -> tuple[Any, dict, dict]:
    """Train the tiny ``cfg``; returns ``(runner, {iteration: loss}, the model's ``part`` state dict before
    training)``, every loss finite and positive."""
    cfg.merge_from_dict(dict(work_dir=str(work_dir / "work"), experiment_name=name, visualizer=dict(name=name)))
    runner = build_runner(cfg)
    start = {k: v.detach().clone() for k, v in getattr(runner.model, part).state_dict().items()}
    runner.train()
    losses = {int(k): v for k, v in json.loads((work_dir / "work" / "losses_rank0.json").read_text()).items()}
    assert sorted(losses) == list(range(1, iters + 1)), losses
    assert all(math.isfinite(v) and v > 0 for v in losses.values()), losses
    return runner, losses, start


def _tiny(config: Path, data_root: str, work_dir: Path, iters: int, imports: list[str], model: dict) -> Config:
    overrides = tiny_overrides(data_root, True, iters, hooks=[dict(type="LossRecorderHook")])
    overrides["custom_imports"] = dict(imports=["toy_train_probes", *imports], allow_failed_imports=False)
    for key, value in model.items():
        overrides["model"][key] = {**overrides["model"].get(key, {}), **value}
    return Config.fromfile(write_tiny_config(str(work_dir / "tiny.py"), str(config), overrides))


def train_toy(config: Path, tmp_path: Path, toy_root: str, iters: int = 3, **model: Any) -> Any:
    """Train ``config`` (a toy project config) ``iters`` iterations at tiny sizes; ``model`` overrides
    the decoder (``transformer_decoder=dict(...)``). Returns ``(runner, losses by iteration, the decoder's
    state dict before training)``."""
    imports = list(Config.fromfile(str(config)).custom_imports.imports)
    cfg = _tiny(config, toy_root, tmp_path, iters, imports, model)
    return _train(cfg, tmp_path, f"train_{config.stem[-40:]}".replace("-", "_"), iters, "transformer_decoder")


def train_toy_variant(variant: dict, data_root: str, work_dir: Path, iters: int = 3,
                      part: str = "transformer_decoder") -> tuple[Any, dict, dict]:
    """Train the toy base (shrunk by ``toy_train_probes.tiny_overrides``) with ``variant`` for ``iters``
    iterations; returns ``(runner, {iteration: loss}, the model's ``part`` state dict before training)``."""
    cfg = _tiny(TOY_BASE, data_root, work_dir, iters, list(variant["custom_imports"]), {})
    return _train(apply_variant(cfg, variant), work_dir, f"pixel_{variant['name']}", iters, part)
