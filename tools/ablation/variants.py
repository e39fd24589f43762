"""The ablation variant catalog and how a variant is applied to a base config.

A variant is a plain dict (format: docs/ablations.md, "Add a variant")::

    dict(name="smca", table="4c", label="SMCA cross-attention",
         custom_imports=["projects.attention_types.attention_types"],
         options={"model.transformer_decoder.type": "SMCADecoder"},
         paper=dict(flops_g=213, AP=37.9, PQ=47.2, mIoU=46.6))

:func:`load_catalog` collects the runner's own rows (``configs/ablations/variants.py``) and every
``projects/*/ablation_variants.py``; :func:`apply_variant` merges a variant's ``options`` into a base config
with two rules: a value that is exactly the string ``"${dotted.key}"`` is replaced by the base config's value
at that key (before merging), and a dict with ``_delete_=True`` replaces the whole sub-dict (mmengine).
"""
from __future__ import annotations

import copy
import re
import runpy
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

from mmengine.config import Config, ConfigDict

REPO = Path(__file__).resolve().parents[2]
RUNNER_CATALOG = Path("configs") / "ablations" / "variants.py"
TABLES = ("4a", "4b", "4c", "4d", "4e", "5", "Xa", "Xb", "XII")
PAPER_KEYS = ("flops_g", "AP", "PQ", "mIoU", "memory_gb")
VARIANT_KEYS = ("name", "table", "label", "custom_imports", "options", "paper", "config", "source")
NAME_RE = re.compile(r"^[a-z0-9_-]+$")
REF_RE = re.compile(r"^\$\{([A-Za-z0-9_.]+)\}$")


def catalog_files(root: Union[str, Path] = REPO) -> list[Path]:
    """The runner's catalog file, then every ``projects/*/ablation_variants.py`` (sorted)."""
    root = Path(root)
    files = [root / RUNNER_CATALOG] if (root / RUNNER_CATALOG).is_file() else []
    return files + sorted(root.glob("projects/*/ablation_variants.py"))


def _tables(value: Any, where: str) -> tuple[str, ...]:
    tables = (value,) if isinstance(value, str) else tuple(value or ())
    bad = [t for t in tables if t not in TABLES]
    if not tables or bad:
        raise ValueError(f"{where}: 'table' must be one of {list(TABLES)} or a list of them, got {value!r}.")
    return tables


def normalize_variant(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A checked copy of one variant dict: ``table`` becomes a tuple, defaults filled in.

    Raises ValueError naming ``where`` (the file or grid entry) and the key at fault.
    """
    if not isinstance(raw, Mapping):
        raise TypeError(f"{where}: a variant must be a dict, got {type(raw).__name__}.")
    unknown = sorted(set(raw) - set(VARIANT_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown variant keys {unknown}; allowed: {list(VARIANT_KEYS)}.")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"{where}: 'name' must match [a-z0-9_-]+, got {name!r}.")
    where = f"{where} (variant '{name}')"
    options = raw.get("options", {})
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        raise ValueError(f"{where}: 'options' must be a dict of dotted keys -> values, got {options!r}.")
    imports = raw.get("custom_imports", [])
    if isinstance(imports, str) or not all(isinstance(m, str) for m in imports):
        raise ValueError(f"{where}: 'custom_imports' must be a list of module names, got {imports!r}.")
    paper = dict(raw.get("paper") or {})
    bad = sorted(set(paper) - set(PAPER_KEYS))
    if bad or not all(isinstance(v, (int, float)) for v in paper.values()):
        raise ValueError(f"{where}: 'paper' takes numbers under {list(PAPER_KEYS)}, got {paper!r}.")
    config = raw.get("config")
    if config is not None and not isinstance(config, str):
        raise ValueError(f"{where}: 'config' must be a config file path, got {config!r}.")
    return dict(name=name, table=_tables(raw.get("table", "4a"), where), label=str(raw.get("label", name)),
                custom_imports=list(imports), options=dict(options), paper=paper, config=config,
                source=str(raw.get("source", where)))


def _read_variants(path: Path) -> list[Any]:
    variants = runpy.run_path(str(path)).get("VARIANTS")
    if not isinstance(variants, (list, tuple)):
        raise ValueError(f"{path}: defines no VARIANTS list (see docs/ablations.md, 'Add a variant').")
    return list(variants)


def load_catalog(root: Union[str, Path] = REPO) -> dict[str, dict[str, Any]]:
    """Every catalog variant by name: the runner's rows plus all ``projects/*/ablation_variants.py``.

    Raises ValueError for a malformed variant or a name defined twice (naming both files).
    """
    root = Path(root)
    catalog: dict[str, dict[str, Any]] = {}
    for path in catalog_files(root):
        rel = path.relative_to(root)
        for raw in _read_variants(path):
            variant = normalize_variant(dict(raw, source=str(rel)), str(rel))
            other = catalog.get(variant["name"])
            if other is not None:
                raise ValueError(f"Variant name '{variant['name']}' is defined twice: in {other['source']} and in "
                                 f"{rel}. Rename one of them (names are unique across the catalog).")
            catalog[variant["name"]] = variant
    return catalog


def lookup(cfg: Mapping[str, Any], dotted: str) -> Any:
    """The value of ``cfg`` at ``dotted`` (``a.b.0.c``: list items by index); KeyError if absent."""
    node: Any = cfg._cfg_dict if isinstance(cfg, Config) else cfg
    for part in dotted.split("."):
        if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            raise KeyError(dotted)
    return node


def resolve_references(value: Any, base: Mapping[str, Any], where: str = "options") -> Any:
    """``value`` with every string ``"${dotted.key}"`` (at any depth) replaced by a copy of ``base``'s value."""
    if isinstance(value, str):
        match = REF_RE.match(value)
        if not match:
            return value
        try:
            found = lookup(base, match.group(1))
        except KeyError:
            raise ValueError(f"{where}: '{value}' refers to '{match.group(1)}', which the base config does not "
                             "have. Refer to a key the base sets (python tools/print_config.py BASE), or give "
                             "the value itself.") from None
        return copy.deepcopy(found.to_dict() if isinstance(found, ConfigDict) else found)
    if isinstance(value, Mapping):
        return {k: resolve_references(v, base, where) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(resolve_references(v, base, where) for v in value)
    return value


def merge_custom_imports(cfg: Config, modules: Iterable[str]) -> None:
    """Add ``modules`` to ``cfg.custom_imports.imports`` (kept in order, no duplicates)."""
    modules = list(modules)
    if not modules:
        return
    current = cfg.get("custom_imports") or {}
    imports = list(current.get("imports", []))
    imports += [m for m in modules if m not in imports]
    cfg.custom_imports = dict(imports=imports, allow_failed_imports=bool(current.get("allow_failed_imports", False)))


def apply_variant(cfg: Config, variant: Mapping[str, Any], extra: Optional[Mapping[str, Any]] = None) -> Config:
    """A copy of ``cfg`` with the variant's ``custom_imports`` and ``options`` (then ``extra``) merged in.

    References are resolved against ``cfg`` as it was before the merge. The base is not modified.
    """
    out = copy.deepcopy(cfg)
    where = f"variant '{variant.get('name', '?')}'"
    options = resolve_references(dict(variant.get("options", {})), cfg, f"{where} options")
    merge_custom_imports(out, variant.get("custom_imports", []))
    if options:
        out.merge_from_dict(options)
    if extra:
        out.merge_from_dict(resolve_references(dict(extra), cfg, f"{where} extra options"))
    return out


def import_variant_modules(cfg: Config) -> None:
    """Import (register) the config's ``custom_imports`` in this process, as Config.fromfile would."""
    from mmengine.utils import import_modules_from_strings

    imports = cfg.get("custom_imports")
    if imports:
        import_modules_from_strings(**imports)
