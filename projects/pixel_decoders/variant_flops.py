"""FLOPs of ablation variants as ratios to the baseline, on the paper base (what the README tables show).

Usage (from the repository root):
    python projects/pixel_decoders/variant_flops.py [MODULE ...] [--base CONFIG] [--names NAME ...]

``MODULE`` is an ``ablation_variants`` module (default: ``projects.feature_levels.ablation_variants`` and
``projects.pixel_decoders.ablation_variants``). Each variant's options are applied to ``--base`` (default the
R50 COCO-instance config) with the variant catalog's two rules (:func:`apply_options`), the model is built and
counted by ``tools/analysis/complexity.py`` at that config's default input; the baseline (no options) first.
Prints one JSON line per variant: GFLOPs, ratio to the baseline and the paper's ratio (its FLOPs / 226).
"""
from __future__ import annotations

import argparse
import copy
import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[2]
PAPER_BASE = "configs/mask2former/mask2former_r50_8xb2-lsj-50e_coco-instance.py"
DEFAULT_MODULES = ["projects.feature_levels.ablation_variants", "projects.pixel_decoders.ablation_variants"]
_REFERENCE = re.compile(r"^\$\{([A-Za-z0-9_.]+)\}$")


def _lookup(cfg: Any, dotted: str) -> Any:
    node = cfg
    for key in dotted.split("."):
        if key not in node:
            raise KeyError(f"a variant option references ${{{dotted}}}, but the base config has no {key!r} there")
        node = node[key]
    return copy.deepcopy(node.to_dict() if hasattr(node, "to_dict") else node)


def substitute(value: Any, cfg: Any) -> Any:
    """``value`` with every string ``"${dotted.key}"`` replaced by ``cfg``'s value at that key (recursively)."""
    if isinstance(value, str) and _REFERENCE.match(value):
        return _lookup(cfg, _REFERENCE.match(value).group(1))
    if isinstance(value, dict):
        return {k: substitute(v, cfg) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(substitute(v, cfg) for v in value)
    return value


def apply_options(cfg: Any, options: dict) -> Any:
    """A copy of the mmengine ``cfg`` with ``options`` merged (``merge_from_dict``: dotted keys, ``_delete_``)."""
    cfg = copy.deepcopy(cfg)
    cfg.merge_from_dict(substitute(copy.deepcopy(options), cfg))
    return cfg


def variant_flops(base: str, variants: list[dict]) -> list[dict]:
    """GFLOPs and ratios of the baseline and ``variants`` on ``base``."""
    sys.path.insert(0, str(ROOT / "tools" / "analysis"))
    import complexity
    from mmengine.config import Config
    from mmengine.utils import import_modules_from_strings

    from segformers.models.build import build_model

    rows, baseline = [], None
    for v in [dict(name="baseline", custom_imports=[], options={}, paper=dict(flops_g=226))] + variants:
        import_modules_from_strings(v["custom_imports"], allow_failed_imports=False)
        cfg = apply_options(Config.fromfile(str(ROOT / base)), v["options"])
        pad, img, ori, desc = complexity.default_input(cfg)
        gflops = complexity.count_flops(build_model(cfg).eval(), pad, img, ori)[1] / 1e9
        baseline = baseline or gflops
        paper = v.get("paper", {}).get("flops_g")
        rows.append(dict(name=v["name"], gflops=round(gflops, 1), ratio=round(gflops / baseline, 4),
                         paper_ratio=round(paper / 226, 4) if paper else None, input=desc))
    return rows


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", default=DEFAULT_MODULES)
    parser.add_argument("--base", default=PAPER_BASE)
    parser.add_argument("--names", nargs="*", help="only these variants")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    variants = [v for m in args.modules for v in importlib.import_module(m).VARIANTS
                if not args.names or v["name"] in args.names]
    for row in variant_flops(args.base, variants):
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
