"""Helpers of the project-plugin tests: apply catalog variants to the two ablation bases and build them,
and train a project config a few iterations on tiny toy data (through ``tests/engine/toy_train_probes``)."""
from __future__ import annotations

import copy
import json
import math
import re
import runpy
import sys
from pathlib import Path
from typing import Any, Mapping

import torch
from mmengine.config import Config
from mmengine.utils import import_modules_from_strings

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "engine"))  # toy_train_probes (its hooks register on import)

from toy_train_probes import make_toy_data, tiny_overrides, write_tiny_config  # noqa: E402

from segformers.apis.runner import build_runner  # noqa: E402
from segformers.registry import MODELS  # noqa: E402

TOY_BASE = REPO / "configs" / "quickstart" / "mask2former_r18-tiny_2xb2-570s_toy-panoptic.py"
PAPER_BASE = REPO / "configs" / "mask2former" / "mask2former_r50_8xb2-lsj-50e_coco-instance.py"
_REF = re.compile(r"^\$\{([A-Za-z0-9_.]+)\}$")

__all__ = ["REPO", "TOY_BASE", "PAPER_BASE", "make_toy_data", "load_variants", "apply_variant", "build_variant",
           "train_toy"]


def load_variants(project: str) -> list[dict]:
    """``VARIANTS`` of ``projects/<project>/ablation_variants.py``."""
    return list(runpy.run_path(str(REPO / "projects" / project / "ablation_variants.py"))["VARIANTS"])


def _resolve(value: Any, base: Config) -> Any:
    """The issue's ``"${dotted.key}"`` rule (a string that names a key of the base takes its value)."""
    if isinstance(value, str) and (m := _REF.match(value)):
        node: Any = base
        for part in m.group(1).split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        return copy.deepcopy(node.to_dict() if hasattr(node, "to_dict") else node)
    if isinstance(value, Mapping):
        return {k: _resolve(v, base) for k, v in value.items()}
    return value


def apply_variant(base: Config, variant: Mapping[str, Any]) -> Config:
    """``base`` with the variant's imports and options: the runner's ``tools.ablation.variants.apply_variant``
    when it is there, else the same two rules here (references, then mmengine ``merge_from_dict``)."""
    try:
        from tools.ablation.variants import apply_variant as runner_apply
    except ImportError:
        runner_apply = None
    if runner_apply is not None:
        return runner_apply(base, variant)
    cfg = copy.deepcopy(base)
    imports = list((cfg.get("custom_imports") or {}).get("imports", []))
    imports += [m for m in variant.get("custom_imports", []) if m not in imports]
    if imports:
        cfg.custom_imports = dict(imports=imports, allow_failed_imports=False)
    cfg.merge_from_dict({k: _resolve(v, base) for k, v in variant.get("options", {}).items()})
    return cfg


def build_variant(base_path: Path, variant: Mapping[str, Any], meta: bool = True) -> torch.nn.Module:
    """The model of ``variant`` on the base config at ``base_path`` (on the meta device unless ``meta=False``)."""
    cfg = apply_variant(Config.fromfile(str(base_path)), variant)
    if cfg.get("custom_imports"):
        import_modules_from_strings(**cfg.custom_imports)
    if not meta:
        return MODELS.build(cfg.model)
    with torch.device("meta"):
        return MODELS.build(cfg.model)


def train_toy(config: Path, tmp_path: Path, toy_root: str, iters: int = 3, **model: Any) -> Any:
    """Train ``config`` (a toy project config) ``iters`` iterations at tiny sizes; ``model`` overrides
    the decoder (``transformer_decoder=dict(...)``). Returns ``(runner, losses by iteration, the decoder's
    state dict before training)``; asserts that every loss is finite and positive."""
    overrides = tiny_overrides(toy_root, True, iters, hooks=[dict(type="LossRecorderHook")])
    imports = list(Config.fromfile(str(config)).custom_imports.imports)
    overrides["custom_imports"] = dict(imports=["toy_train_probes", *imports], allow_failed_imports=False)
    for key, value in model.items():
        overrides["model"][key] = {**overrides["model"].get(key, {}), **value}
    cfg = Config.fromfile(write_tiny_config(str(tmp_path / "tiny.py"), str(config), overrides))
    name = f"train_{config.stem[-40:]}".replace("-", "_")
    cfg.merge_from_dict(dict(work_dir=str(tmp_path / "work"), experiment_name=name, visualizer=dict(name=name)))
    runner = build_runner(cfg)
    start = {k: v.detach().clone() for k, v in runner.model.transformer_decoder.state_dict().items()}
    runner.train()
    losses = {int(k): v for k, v in json.loads((tmp_path / "work" / "losses_rank0.json").read_text()).items()}
    assert sorted(losses) == list(range(1, iters + 1)), losses
    assert all(math.isfinite(v) and v > 0 for v in losses.values()), losses
    return runner, losses, start
