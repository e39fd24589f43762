"""A grid file: the base config, variants, seeds, budget and executor of one ablation study.

The grid is a Python file read with mmengine's ``Config.fromfile`` (so it may use ``_base_``)::

    base = "configs/ablations/toy_base.py"     # the config every variant modifies
    variants = ["masked_attention", "cross_attention",                 # catalog names ...
                dict(name="queries_10", table="Xa", label="10 queries",  # ... or inline variants
                     options={"model.transformer_decoder.num_queries": 10})]
    baseline = "masked_attention"              # the Δ reference (default: the catalog baseline)
    seeds = [0, 1]
    budget = dict(seconds=150)                 # or dict(iters=2000): training length per cell
    work_dir = "work_dirs/ablations/toy"
    options = {}                               # dotted overrides for every cell, after the variant's
    eval_images = 150                          # evaluate on the first N test images (None: all)
    flops_input = (128, 128)                   # padded input (H, W) for the FLOPs of each cell
    executor = dict(type="local", jobs=2, folder=None, slurm={})   # CLI flags override
    data = dict(check="data/toy/coco/annotations/panoptic_val2017.json",
                command="python tools/make_toy_dataset.py data/toy --num-train 1000 --num-val 300")

Every key is checked by :func:`load_grid`; a mistake is a ValueError naming the key and the fix.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

from mmengine.config import Config

from .variants import REPO, load_catalog, normalize_variant

EXECUTORS = ("local", "local-parallel", "slurm")
GRID_KEYS = ("base", "variants", "baseline", "seeds", "budget", "work_dir", "options", "eval_images",
             "flops_input", "executor", "data")
DEFAULT_BASELINE = "masked_attention"


@dataclass
class Grid:
    """A checked grid: ``variants`` are full variant dicts (catalog rows or inline), in grid order."""

    path: str
    base: str
    variants: list[dict[str, Any]]
    seeds: list[int]
    budget: dict[str, float]
    work_dir: str
    baseline: str = DEFAULT_BASELINE
    options: dict[str, Any] = field(default_factory=dict)
    eval_images: Optional[int] = None
    flops_input: tuple[int, int] = (128, 128)
    executor: dict[str, Any] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # catalog names the grid asks for that no plugin defines


def _fail(path: str, key: str, problem: str, fix: str) -> ValueError:
    return ValueError(f"grid {path}: '{key}' {problem}. {fix}")


def _seeds(path: str, seeds: Any) -> list[int]:
    if isinstance(seeds, int):
        seeds = [seeds]
    if not isinstance(seeds, (list, tuple)) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise _fail(path, "seeds", f"must be a non-empty list of integers, got {seeds!r}", "E.g. seeds = [0, 1].")
    if len(set(seeds)) != len(seeds):
        raise _fail(path, "seeds", f"lists a seed twice: {seeds!r}", "List each seed once.")
    return list(seeds)


def _budget(path: str, budget: Any) -> dict[str, float]:
    fix = "Give exactly one of budget = dict(iters=N) or budget = dict(seconds=S), N and S > 0."
    if not isinstance(budget, Mapping) or len(budget) != 1 or next(iter(budget)) not in ("iters", "seconds"):
        raise _fail(path, "budget", f"is {budget!r}", fix)
    (kind, value), = budget.items()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or (
            kind == "iters" and not float(value).is_integer()):
        raise _fail(path, "budget", f"has {kind}={value!r}", fix)
    return {kind: int(value) if kind == "iters" else float(value)}


def _variants(path: str, entries: Any, catalog: Mapping[str, dict]) -> tuple[list[dict], list[str]]:
    if not isinstance(entries, (list, tuple)) or not entries:
        raise _fail(path, "variants", f"must be a non-empty list, got {entries!r}",
                    "List catalog names (python tools/ablate.py GRID --dry-run shows them) and/or inline dicts.")
    out, missing = [], []
    for i, entry in enumerate(entries):
        if isinstance(entry, str):
            if entry in catalog:
                out.append(catalog[entry])
            else:
                missing.append(entry)
        elif isinstance(entry, Mapping):
            variant = normalize_variant(dict(entry, source=f"{path} (inline)"), f"grid {path}: variants[{i}]")
            if variant["name"] in catalog:
                raise _fail(path, f"variants[{i}]", f"redefines the catalog variant '{variant['name']}'",
                            "Give an inline variant its own name, or list the catalog name as a string.")
            out.append(variant)
        else:
            raise _fail(path, f"variants[{i}]", f"is a {type(entry).__name__}", "Use a catalog name or a dict.")
    names = [v["name"] for v in out] + missing
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise _fail(path, "variants", f"lists {dupes} more than once", "List each variant once.")
    return out, missing


def _check_missing(path: str, missing: list[str], catalog: Mapping[str, dict]) -> None:
    if missing:
        raise _fail(path, "variants", f"names variants that are not in the catalog: {missing}",
                    f"Known: {sorted(catalog)}. Add the plugin's projects/<proj>/ablation_variants.py, fix the "
                    "name, or run with --only to leave them out (--dry-run lists what is missing).")


def _int_pair(path: str, key: str, value: Any) -> tuple[int, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(isinstance(v, int) and v > 0
                                                                          for v in value):
        raise _fail(path, key, f"must be (H, W) positive integers, got {value!r}", "E.g. flops_input = (128, 128).")
    return int(value[0]), int(value[1])


def load_grid(path: Union[str, Path], root: Union[str, Path] = REPO, allow_missing: bool = False,
              catalog: Optional[Mapping[str, dict]] = None) -> Grid:
    """Read and check a grid file; ``allow_missing`` keeps unknown catalog names in ``Grid.missing``
    instead of raising (``--dry-run``)."""
    path = str(path)
    raw = Config.fromfile(path).to_dict()
    unknown = sorted(set(raw) - set(GRID_KEYS))
    if unknown:
        raise _fail(path, unknown[0], "is not a grid key", f"Grid keys: {list(GRID_KEYS)}.")
    base = raw.get("base")
    if not isinstance(base, str) or not (Path(root) / base).is_file() and not Path(base).is_file():
        raise _fail(path, "base", f"must name an existing config file, got {base!r}",
                    "E.g. base = 'configs/ablations/toy_base.py' (relative to the repository root).")
    catalog = load_catalog(root) if catalog is None else catalog
    variants, missing = _variants(path, raw.get("variants"), catalog)
    if not allow_missing:
        _check_missing(path, missing, catalog)
    work_dir = raw.get("work_dir") or str(Path("work_dirs") / "ablations" / Path(path).stem)
    eval_images = raw.get("eval_images")
    if eval_images is not None and (not isinstance(eval_images, int) or eval_images <= 0):
        raise _fail(path, "eval_images", f"must be a positive integer or None, got {eval_images!r}",
                    "E.g. eval_images = 150 (the first 150 test images).")
    executor = dict(raw.get("executor") or {})
    if executor.get("type", "local") not in EXECUTORS:
        raise _fail(path, "executor.type", f"is {executor.get('type')!r}", f"Use one of {list(EXECUTORS)}.")
    options = raw.get("options") or {}
    if not isinstance(options, Mapping):
        raise _fail(path, "options", f"must be a dict of dotted keys, got {options!r}", "E.g. options = {}.")
    return Grid(path=path, base=base, variants=variants, seeds=_seeds(path, raw.get("seeds")),
                budget=_budget(path, raw.get("budget")), work_dir=str(work_dir),
                baseline=str(raw.get("baseline") or DEFAULT_BASELINE), options=dict(options),
                eval_images=eval_images, flops_input=_int_pair(path, "flops_input", raw.get("flops_input", (128, 128))),
                executor=executor, data=dict(raw.get("data") or {}), missing=missing)


def select(grid: Grid, only: Optional[Sequence[str]]) -> Grid:
    """The grid restricted to the variants named in ``only`` (``--only``); unknown names are an error."""
    if not only:
        return grid
    known = [v["name"] for v in grid.variants] + grid.missing
    bad = [n for n in only if n not in known]
    if bad:
        raise ValueError(f"--only {','.join(bad)}: not in the grid {grid.path} (its variants: {known}).")
    grid.variants = [v for v in grid.variants if v["name"] in only]
    grid.missing = [n for n in grid.missing if n in only]
    return grid
