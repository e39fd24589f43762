"""``table.md`` from ``results.jsonl``: rows grouped by paper table, mean ± std over seeds, Δ to the baseline,
the paper's numbers beside ours, FLOPs ours and the FLOPs ratio ours vs the paper's."""
from __future__ import annotations

import math
import statistics
from typing import Any, Iterable, Optional, Sequence

from .results import METRICS, latest, metric
from .variants import TABLES

TABLE_TITLES = {"4a": "Table 4a: masked attention and high-resolution features",
                "4b": "Table 4b: optimisation improvements", "4c": "Table 4c: attention type",
                "4d": "Table 4d: feature resolution fed to the decoder", "4e": "Table 4e: pixel decoder",
                "5": "Table 5: matching and loss on masks vs points", "Xa": "Table Xa: number of queries",
                "Xb": "Table Xb: query features", "XII": "Table XII: MaskFormer vs Mask2Former"}


def mean_std(values: Sequence[float]) -> tuple[Optional[float], Optional[float]]:
    """Mean and sample standard deviation (0 for one value); (None, None) for none."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _fmt(value: Optional[float], digits: int = 1, sign: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per variant: its catalog fields, seeds, and mean/std of every metric and measurement (ok cells only)."""
    by_name: dict[str, list[dict]] = {}
    for r in latest(records).values():
        if r.get("status") == "ok":
            by_name.setdefault(r["name"], []).append(r)
    out = {}
    for name, rows in by_name.items():
        rows.sort(key=lambda r: r["seed"])
        first = rows[0]
        s = dict(name=name, label=first.get("label", name), table=list(first.get("table") or []),
                 paper=dict(first.get("paper") or {}), seeds=[r["seed"] for r in rows])
        for short, _ in METRICS:
            s[short] = mean_std([metric(r, short) for r in rows])
        for key in ("flops_g", "params", "sec_per_iter", "iters", "peak_rss_mb", "wall_s"):
            s[key] = mean_std([r.get(key) for r in rows])[0]
        out[name] = s
    return out


def _paper_cell(variant: dict, base: Optional[dict], short: str) -> str:
    value = variant["paper"].get(short)
    if value is None:
        return "–"
    ref = (base or {}).get("paper", {}).get(short)
    return f"{value:.1f}" if ref is None or variant is base else f"{value:.1f} ({value - ref:+.1f})"


def _row(v: dict, base: Optional[dict]) -> list[str]:
    cells = [f"{v['label']} (`{v['name']}`)", ",".join(map(str, v["seeds"]))]
    for short, _ in METRICS:
        mean, std = v[short]
        delta = None if base is None or v is base or mean is None or base[short][0] is None else mean - base[short][0]
        cells += [f"{_fmt(mean)} ± {_fmt(std)}" if mean is not None else "–", _fmt(delta, sign=True),
                  _paper_cell(v, base, short)]
    ratio = None
    if base is not None and v["flops_g"] and base["flops_g"]:
        ratio = v["flops_g"] / base["flops_g"]
    paper_ratio = None
    if base is not None and v["paper"].get("flops_g") and base["paper"].get("flops_g"):
        paper_ratio = v["paper"]["flops_g"] / base["paper"]["flops_g"]
    params = None if v["params"] is None else v["params"] / 1e6
    cells += [_fmt(v["flops_g"], 3), _fmt(ratio, 3), _fmt(paper_ratio, 3), _fmt(params, 2),
              _fmt(v["sec_per_iter"], 3), _fmt(v["iters"], 0), _fmt(v["peak_rss_mb"], 0)]
    return cells


HEADER = ["variant", "seeds", "PQ", "Δ", "paper PQ (Δ)", "mIoU", "Δ", "paper mIoU (Δ)", "AP", "Δ", "paper AP (Δ)",
          "GFLOPs", "ratio", "paper ratio", "params (M)", "s/iter", "iters", "peak RSS (MB)"]


def _failed_lines(records: Iterable[dict[str, Any]]) -> list[str]:
    failed = [r for r in latest(records).values() if r.get("status") != "ok"]
    return [f"- `{r['key']}` failed in {r.get('stage', '?')} (see {r.get('work_dir', '?')}/cell.log)"
            for r in sorted(failed, key=lambda r: r["key"])]


def build_table(records: Sequence[dict[str, Any]], baseline: str, note: str = "") -> str:
    """The markdown of ``table.md``; ``note`` (e.g. the grid, budget, machine) goes under the title."""
    summary = summarize(records)
    base = summary.get(baseline)
    lines = ["# Ablation results", ""]
    if note:
        lines += [note, ""]
    lines += [f"Mean ± sample std over seeds; Δ = ours minus the baseline `{baseline}` (paper: the paper's "
              "number, in brackets its Δ to the paper's baseline); ratio = GFLOPs / baseline GFLOPs. Metrics: "
              "PQ `panoptic_seg/PQ`, mIoU `sem_seg/mIoU`, AP `segm/AP` as the evaluators report them.", ""]
    if base is None:
        lines += [f"The baseline `{baseline}` has no finished cell: no Δ or ratio.", ""]
    for table in TABLES:
        members = [v for v in summary.values() if table in v["table"]]
        if not [v for v in members if v["name"] != baseline]:
            continue
        members.sort(key=lambda v: (v["name"] != baseline, v["name"]))
        lines += [f"## {TABLE_TITLES.get(table, 'Table ' + table)}", "", "| " + " | ".join(HEADER) + " |",
                  "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(_row(v, base)) + " |" for v in members]
        lines.append("")
    if not any(line.startswith("## ") for line in lines) and base is not None:
        lines += ["## Baseline only", "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER),
                  "| " + " | ".join(_row(base, base)) + " |", ""]
    failed = _failed_lines(records)
    if failed:
        lines += ["## Cells that did not finish", ""] + failed + [""]
    return "\n".join(lines)
