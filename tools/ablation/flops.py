"""FLOPs of the catalog variants on the paper's base, as ratios to the default model (issue #21 acceptance).

Every catalog variant with a published ``paper.flops_g`` is applied to the R50 COCO-instance Mask2Former
(``PAPER_BASE``) and counted with ``tools/analysis/complexity.py`` (fvcore, the official counting rules) on one
zero image of ``shape`` (default 800x1216, batch 1); ``ratio = ours / ours(baseline)`` is compared with
``paper / 226``.
"""
from __future__ import annotations

import sys
from typing import Any, Mapping, Optional, Sequence

from mmengine.config import Config

from .variants import REPO, apply_variant, load_catalog

PAPER_BASE = "configs/mask2former/mask2former_r50_8xb2-lsj-50e_coco-instance.py"
SHAPE = (800, 1216)
BASELINE = "masked_attention"
TOLERANCE = 0.02  # |ours ratio / paper ratio - 1|


def _complexity():  # noqa: ANN202
    sys.path.insert(0, str(REPO / "tools" / "analysis"))
    import complexity  # tools/analysis/complexity.py

    return complexity


def model_complexity(config: Any, shape: Sequence[int]) -> tuple[float, dict[str, int]]:
    """(GFLOPs, parameters per part and ``total``) of ``config``'s model (a path or a Config) at padded
    input ``shape``: ``tools/analysis/complexity.py`` on a zero image, the papers' counting rules."""
    import torch

    cx = _complexity()
    _, model = cx.build(config)
    params = cx.count_parameters(model)
    with torch.no_grad():
        _, total = cx.count_flops(model, shape, shape, shape)
    del model
    return total / 1e9, params


def variant_flops(variant: Mapping[str, Any], base: Config, shape: Sequence[int] = SHAPE) -> tuple[float, int]:
    """(GFLOPs, parameters) of ``variant`` applied to ``base`` at padded input ``shape``."""
    gflops, params = model_complexity(apply_variant(base, variant), shape)
    return gflops, params["total"]


def flops_table(catalog: Optional[Mapping[str, dict]] = None, base_config: str = PAPER_BASE,
                shape: Sequence[int] = SHAPE, only: Optional[Sequence[str]] = None,
                baseline: str = BASELINE) -> list[dict[str, Any]]:
    """One row per variant with a paper FLOPs figure (the baseline first): ours, ratio, paper ratio, error."""
    catalog = dict(load_catalog() if catalog is None else catalog)
    if baseline not in catalog:
        raise ValueError(f"The catalog has no baseline '{baseline}' (configs/ablations/variants.py defines it).")
    base = Config.fromfile(str(REPO / base_config))
    names = [n for n, v in catalog.items() if v["paper"].get("flops_g") and n != baseline]
    if only:
        names = [n for n in names if n in only]
    ref_g, ref_params = variant_flops(catalog[baseline], base, shape)
    ref_paper = float(catalog[baseline]["paper"]["flops_g"])
    rows = []
    for name in [baseline] + names:
        v = catalog[name]
        ours, params = variant_flops(v, base, shape) if name != baseline else (ref_g, ref_params)
        paper_ratio = float(v["paper"]["flops_g"]) / ref_paper
        ratio = ours / ref_g
        rows.append(dict(name=name, label=v["label"], table=list(v["table"]), ours_g=ours, ratio=ratio,
                         paper_g=float(v["paper"]["flops_g"]), paper_ratio=paper_ratio,
                         error=ratio / paper_ratio - 1.0, shape=list(shape), params=params))
    return rows


def format_flops_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown: variant, table, our GFLOPs, ratio, paper GFLOPs, paper ratio, relative error, within 2%."""
    shape = rows[0]["shape"] if rows else list(SHAPE)
    lines = [f"FLOPs at a {shape[0]}x{shape[1]} input (batch 1), {PAPER_BASE} + each variant; "
             "ratio = variant / baseline.", "",
             "| variant | table | ours (G) | ratio | paper (G) | paper ratio | ratio error | within 2% |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ok = "yes" if abs(r["error"]) <= TOLERANCE else "**no**"
        lines.append(f"| {r['label']} (`{r['name']}`) | {','.join(r['table'])} | {r['ours_g']:.1f} | "
                     f"{r['ratio']:.3f} | {r['paper_g']:g} | {r['paper_ratio']:.3f} | {100 * r['error']:+.1f}% "
                     f"| {ok} |")
    return "\n".join(lines)
