"""``plot.png``: PQ / mIoU / AP per variant (mean ± std over seeds, the baseline as a dashed line), one row of
panels per paper table. matplotlib is optional: without it no plot is written and a one-line note says so."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from .results import METRICS
from .table import summarize
from .variants import TABLES

NO_MATPLOTLIB = "plot.png not written: matplotlib is not installed (pip install -r requirements/optional.txt)."


def write_plot(records: Sequence[dict[str, Any]], baseline: str, path: Path) -> Optional[str]:
    """Write the plot to ``path``; returns None, or the note saying why there is no plot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return NO_MATPLOTLIB
    summary = summarize(records)
    tables = [t for t in TABLES if any(t in v["table"] and v["name"] != baseline for v in summary.values())]
    if not tables:
        return "plot.png not written: no finished cell besides the baseline."
    fig, axes = plt.subplots(len(tables), len(METRICS), figsize=(4.2 * len(METRICS), 2.8 * len(tables)),
                             squeeze=False)
    base = summary.get(baseline)
    for row, table in zip(axes, tables):
        members = sorted((v for v in summary.values() if table in v["table"]),
                         key=lambda v: (v["name"] != baseline, v["name"]))
        for ax, (short, _) in zip(row, METRICS):
            means = [v[short][0] if v[short][0] is not None else 0.0 for v in members]
            stds = [v[short][1] or 0.0 for v in members]
            colors = ["tab:gray" if v["name"] == baseline else "tab:blue" for v in members]
            ax.bar(range(len(members)), means, yerr=stds, color=colors, capsize=3)
            if base is not None and base[short][0] is not None:
                ax.axhline(base[short][0], color="k", linestyle="--", linewidth=0.8)
            ax.set_xticks(range(len(members)), [v["name"] for v in members], rotation=35, ha="right", fontsize=7)
            ax.set_title(f"{table}: {short}", fontsize=9)
            finite = [m for m in means if m]
            if finite:
                ax.set_ylim(max(0.0, min(finite) - 3 * max(max(stds), 1.0)), max(finite) + 2 * max(max(stds), 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
