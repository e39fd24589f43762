"""Imports point one way: every import of every segformers module, read with ``ast``, follows the layers.

Layers, top to bottom (DESIGN.md, docs/architecture.md "Layers"): ``hf`` (the Hugging Face surface) ->
``apis`` -> ``engine``, ``checkpoint``, ``processing``, ``testing``, ``export`` -> ``data``, ``evaluation``,
``models`` -> ``registry``, ``structures``, ``weights_io``, ``visualization`` -> ``type_check``. A module may import its own
top-level package and anything in a lower layer; nothing sideways (another package of its own layer) or up. On top of the
layers: ``engine`` imports no model implementation (``segformers.models``: only registries and
contracts), and no module of the package imports ``tools``, ``tests`` or ``projects``.
Every import counts: absolute and relative, at module level or inside functions and ``if`` blocks, and
``importlib.import_module("...")`` with a literal name.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, NamedTuple, Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "segformers"

LAYERS: dict[int, set[str]] = {  # 1 = the ground floor
    5: {"hf"},
    4: {"apis"},
    3: {"engine", "checkpoint", "processing", "testing", "export"},
    2: {"data", "evaluation", "models"},
    1: {"registry", "structures", "weights_io", "visualization"},
    0: {"type_check"},  # below the registry, which checks every config value with it
}
LAYER_OF = {name: i for i, names in LAYERS.items() for name in names}
NOT_IMPORTED = {"tools", "tests", "projects"}  # the package never imports these
EXTRA_RULES = {  # (importing package, imported package) -> why
    ("engine", "models"): "engine imports no model implementation (only registries and contracts)",
}


class Edge(NamedTuple):
    """One import: ``importer`` (module name) imports ``imported`` (module name) at ``line``."""

    importer: str
    imported: str
    line: int


def module_name(path: Path) -> str:
    """``segformers/models/__init__.py`` -> ``segformers.models``; ``.../fpn.py`` -> ``...fpn``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module of a ``from X import ...`` (relative levels resolved against ``importer``)."""
    if not node.level:
        return node.module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_import_module_call(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("import_module", "__import__") and isinstance(node.args[0].value, str)


def imports(importer: str, source: str, is_package: bool = False) -> Iterator[Edge]:
    """Every import of a segformers / tools / tests / projects module in ``source``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(node, importer, is_package)
            # `from segformers import registry` / `from . import x` may name submodules
            names_modules = module == "segformers" or node.module is None
            targets = [f"{module}.{a.name}" for a in node.names] if names_modules else [module]
        elif _is_import_module_call(node):  # importlib.import_module("segformers.x")
            targets = [node.args[0].value]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in {"segformers", *NOT_IMPORTED}:
                yield Edge(importer, target, node.lineno)


def _layer_text(i: int) -> str:
    return f"layer {i} ({', '.join(sorted(LAYERS[i]))})"


def violation(edge: Edge) -> Optional[str]:
    """Why ``edge`` is forbidden, naming both modules and the rule; ``None`` if it is allowed."""
    src_parts, dst_parts = edge.importer.split("."), edge.imported.split(".")
    where = f"{edge.importer} imports {edge.imported} (line {edge.line})"
    if dst_parts[0] in NOT_IMPORTED:
        return f"{where}: the package never imports {dst_parts[0]}/"
    if len(src_parts) < 2 or len(dst_parts) < 2:
        return None  # the package root (segformers/__init__.py) or `import segformers`
    src, dst = src_parts[1], dst_parts[1]
    for name in (src, dst):
        if name not in LAYER_OF:
            return f"{where}: segformers.{name} has no layer; add it to LAYERS in tests/test_import_rules.py"
    if src == dst:
        return None
    if (src, dst) in EXTRA_RULES:
        return f"{where}: {EXTRA_RULES[(src, dst)]}"
    if LAYER_OF[dst] >= LAYER_OF[src]:
        direction = "up" if LAYER_OF[dst] > LAYER_OF[src] else "sideways"
        return (f"{where}: {src} is in {_layer_text(LAYER_OF[src])} and may import only lower layers; "
                f"{dst} is in {_layer_text(LAYER_OF[dst])} ({direction})")
    return None


def package_edges() -> list[Edge]:
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "base_configs" in path.relative_to(PACKAGE).parts:
            continue  # package data (config files), not modules
        edges += imports(module_name(path), path.read_text(), path.name == "__init__.py")
    return edges


def test_every_import_of_the_package_follows_the_layers():
    edges = package_edges()
    assert len(edges) > 200  # the walk does see the package's imports
    assert any(e.importer == "segformers.apis.runner" and e.imported == "segformers.engine.threads" for e in edges)
    problems = [v for v in map(violation, edges) if v]
    assert not problems, "forbidden imports:\n" + "\n".join(problems)


def test_every_top_level_part_has_a_layer():
    names = {p.stem for p in PACKAGE.iterdir() if (p.suffix == ".py" or p.is_dir()) and p.name != "__init__.py"}
    names -= {"__pycache__", "base_configs"}
    assert names <= set(LAYER_OF), f"give {sorted(names - set(LAYER_OF))} a layer in LAYERS"


@pytest.mark.parametrize("importer, source, is_package, rule", [
    # the review's loop: models -> checkpoint -> apis -> models
    ("segformers.models.backbones.pretrained", "from segformers.checkpoint.backbones import x", False,
     "models is in layer 2 (data, evaluation, models) and may import only lower layers; checkpoint is in layer 3"),
    ("segformers.checkpoint.official", "def f():\n    from ..apis.model import build_model\n", False,
     "checkpoint is in layer 3 (checkpoint, engine, export, processing, testing) and may import only lower layers; "
     "apis is in layer 4 (apis) (up)"),
    ("segformers.models.postprocess_hf", "from ..processing import postprocess as hf_post\n", False,
     "processing is in layer 3"),
    ("segformers.models.postprocess", "from ...processing import postprocess", True, "processing is in layer 3"),
    ("segformers.engine.match_cost_hook", "from segformers.models.matchers import MatchCost", False,
     "engine imports no model implementation"),
    ("segformers.data.datasets.base", "import segformers.evaluation.utils", False, "(sideways)"),
    ("segformers.weights_io", "if True:\n    from .models import build\n", False, "(up)"),
    ("segformers.weights_io", "from . import structures", False, "(sideways)"),
    ("segformers.apis.inference", "import tools.infer", False, "the package never imports tools/"),
    ("segformers.models.segmentor", "import importlib\nimportlib.import_module('segformers.apis')", False, "(up)"),
])
def test_a_forbidden_edge_is_caught_and_named(importer, source, is_package, rule):
    found = [v for v in map(violation, imports(importer, source, is_package)) if v]
    assert len(found) == 1, found
    assert found[0].startswith(f"{importer} imports ") and rule in found[0]


def test_allowed_edges_pass():
    allowed = [
        ("segformers.apis.model", "from ..models.build import build_model\nfrom ..weights_io import load_weights"),
        ("segformers.checkpoint.hf_backbones", "from segformers.models.backbones.swin import relative_position_index"),
        ("segformers.engine.match_cost_hook", "from segformers.registry import HOOKS, MATCH_COSTS"),
        ("segformers.models.segmentor", "from .backbones.pretrained import split_init_cfg\nfrom .. import registry"),
        ("segformers.registry", "from segformers import registry as _registry"),
    ]
    for importer, source in allowed:
        edges = list(imports(importer, source))
        assert edges and not [v for v in map(violation, edges) if v], (importer, edges)
