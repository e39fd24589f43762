"""Every registry of segformers, declared in one place.

Two kinds of registries live here:

* children of mmengine's root registries (scope ``segformers``) for what mmengine's Runner builds
  itself: the segmentor (``MODELS``), datasets, transforms, metrics, hooks, visualizers, optimizer
  constructors, ...;
* role registries for the research units a paper ablates: backbones, pixel decoders, transformer
  decoders, matchers and their costs, losses, criteria and post-processors. They have no parent, so
  listings and errors speak the researcher's language ("not in the pixel decoder registry").

``python -m segformers.registry`` prints every registry with its entries.

An unknown name fails with the registry's name, what it holds, the closest names and a reminder of
``custom_imports`` for plugins (see :func:`build_with_hint`); a config value that does not fit the type
hint of its constructor parameter fails naming the component, the key, the type and the value
(:mod:`segformers.type_check`).
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, Optional

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry, build_from_cfg, build_model_from_cfg

from .type_check import type_mismatch

SCOPE = "segformers"

PLUGIN_HINT = (
    "If it is defined in a plugin, import it from the config with "
    "custom_imports = dict(imports=['projects.<name>.<package>'], allow_failed_imports=False)."
)


def _registered_names(registry: Registry) -> list[str]:
    """All names reachable from ``registry`` (its own entries first, then its parents')."""
    registry.import_from_location()
    names = list(registry.module_dict)
    parent = registry.parent
    while parent is not None:
        names += [n for n in parent.module_dict if n not in names]
        parent = parent.parent
    return names


def unknown_name_message(registry: Registry, name: str) -> str:
    """A message naming the registry, its entries, the closest matches and the plugin hint."""
    own = sorted(registry.module_dict)
    close = difflib.get_close_matches(name, _registered_names(registry), n=3, cutoff=0.5)
    parts = [f"'{name}' is not in the {registry.scope}::{registry.name} registry."]
    parts.append(f"Closest names: {close}." if close else "No close name was found.")
    parts.append(f"It holds: {own}.")
    parts.append(PLUGIN_HINT)
    return " ".join(parts)


def check_registered(registry: Registry, name: str) -> None:
    """Raise ``KeyError`` with :func:`unknown_name_message` if ``name`` cannot be found."""
    if registry.get(name) is None:
        raise KeyError(unknown_name_message(registry, name))


def _type_problem(cfg: Any, registry: Registry, default_args: Optional[dict]) -> Optional[str]:
    """Check the type name of ``cfg`` (``KeyError`` if unknown); a message if a value does not fit the
    component's type hints (:func:`segformers.type_check.type_mismatch`)."""
    if not isinstance(cfg, dict):
        return None
    target = cfg.get("type")
    if isinstance(target, str):
        check_registered(registry, target)
        target = registry.get(target)
    if target is None:
        return None
    args = {k: v for k, v in cfg.items() if k not in ("type", "_scope_")}
    for key, value in (default_args or {}).items():
        args.setdefault(key, value)
    return type_mismatch(target, args, f"{getattr(target, '__name__', target)} ({registry.name} registry)")


def _checked_build(build: Callable, cfg: Any, registry: Registry, default_args: Optional[dict]) -> Any:
    problem = _type_problem(cfg, registry, default_args)
    if problem is None:
        return build(cfg, registry, default_args)
    try:
        build(cfg, registry, default_args)
    except ValueError:
        raise  # the component's own check of its arguments names them best
    except Exception as err:  # e.g. a torch-internal TypeError that names no key
        raise TypeError(problem) from err
    raise TypeError(problem)


def build_with_hint(cfg: Any, registry: Registry, default_args: Optional[dict] = None) -> Any:
    """``build_from_cfg`` that first checks the type name (explaining an unknown one) and that the values
    fit the component's type hints (``TypeError`` naming component, key, type and value)."""
    return _checked_build(build_from_cfg, cfg, registry, default_args)


def build_model_with_hint(cfg: Any, registry: Registry, default_args: Optional[dict] = None) -> Any:
    """``build_model_from_cfg`` (lists become ``nn.Sequential``) with the checks of :func:`build_with_hint`."""
    return _checked_build(build_model_from_cfg, cfg, registry, default_args)


def _child(parent: Registry, name: str, locations: list[str], model: bool = False) -> Registry:
    if SCOPE in parent.children:  # this module executed twice (``python -m segformers.registry``)
        return parent.children[SCOPE]
    func = build_model_with_hint if model else build_with_hint
    return Registry(name, parent=parent, scope=SCOPE, locations=locations, build_func=func)


def _role(name: str, locations: list[str]) -> Registry:
    return Registry(name, scope=SCOPE, locations=locations, build_func=build_model_with_hint)


# --- children of mmengine's roots: what the Runner builds --------------------------------------
MODELS = _child(
    MMENGINE_MODELS, "model", ["segformers.models", "segformers.data.data_preprocessor"], model=True
)
DATASETS = _child(MMENGINE_DATASETS, "dataset", ["segformers.data"])
TRANSFORMS = _child(MMENGINE_TRANSFORMS, "transform", ["segformers.data"])
DATA_SAMPLERS = _child(MMENGINE_DATA_SAMPLERS, "data sampler", ["segformers.data"])
METRICS = _child(MMENGINE_METRICS, "metric", ["segformers.evaluation"])
EVALUATOR = _child(MMENGINE_EVALUATOR, "evaluator", ["segformers.evaluation"])
HOOKS = _child(MMENGINE_HOOKS, "hook", ["segformers.engine"])
LOOPS = _child(MMENGINE_LOOPS, "loop", ["segformers.engine"])
# mmengine's root itself, not a child: the Runner looks a wrapper type up with ``MODEL_WRAPPERS.get``,
# which ignores the default scope (a child's entries would not be found)
MODEL_WRAPPERS = MMENGINE_MODEL_WRAPPERS
OPTIMIZERS = _child(MMENGINE_OPTIMIZERS, "optimizer", ["segformers.engine"])
OPTIM_WRAPPERS = _child(MMENGINE_OPTIM_WRAPPERS, "optim wrapper", ["segformers.engine"])
OPTIM_WRAPPER_CONSTRUCTORS = _child(
    MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, "optimizer wrapper constructor", ["segformers.engine"]
)
PARAM_SCHEDULERS = _child(MMENGINE_PARAM_SCHEDULERS, "parameter scheduler", ["segformers.engine"])
VISUALIZERS = _child(MMENGINE_VISUALIZERS, "visualizer", ["segformers.visualization"])
VISBACKENDS = _child(MMENGINE_VISBACKENDS, "vis_backend", ["segformers.visualization"])
WEIGHT_INITIALIZERS = _child(MMENGINE_WEIGHT_INITIALIZERS, "weight initializer", ["segformers.models"])

# --- role registries: the research units ------------------------------------------------------
BACKBONES = _role("backbone", ["segformers.models.backbones"])
PIXEL_DECODERS = _role("pixel decoder", ["segformers.models.pixel_decoders"])
TRANSFORMER_DECODERS = _role("transformer decoder", ["segformers.models.transformer_decoders"])
MATCHERS = _role("matcher", ["segformers.models.matchers"])
MATCH_COSTS = _role("match cost", ["segformers.models.matchers"])
LOSSES = _role("loss", ["segformers.models.losses"])
CRITERIA = _role("criterion", ["segformers.models.losses"])
POSTPROCESSORS = _role("post-processor", ["segformers.models.postprocess"])
AUX_HEADS = _role("auxiliary head", ["segformers.models.aux_heads"])

ALL_REGISTRIES: dict[str, Registry] = {
    "backbones": BACKBONES,
    "pixel_decoders": PIXEL_DECODERS,
    "transformer_decoders": TRANSFORMER_DECODERS,
    "matchers": MATCHERS,
    "match_costs": MATCH_COSTS,
    "losses": LOSSES,
    "criteria": CRITERIA,
    "postprocessors": POSTPROCESSORS,
    "aux_heads": AUX_HEADS,
    "models": MODELS,
    "datasets": DATASETS,
    "transforms": TRANSFORMS,
    "data_samplers": DATA_SAMPLERS,
    "metrics": METRICS,
    "evaluator": EVALUATOR,
    "hooks": HOOKS,
    "loops": LOOPS,
    "model_wrappers": MODEL_WRAPPERS,
    "optimizers": OPTIMIZERS,
    "optim_wrappers": OPTIM_WRAPPERS,
    "optim_wrapper_constructors": OPTIM_WRAPPER_CONSTRUCTORS,
    "param_schedulers": PARAM_SCHEDULERS,
    "visualizers": VISUALIZERS,
    "vis_backends": VISBACKENDS,
    "weight_initializers": WEIGHT_INITIALIZERS,
}


def listing() -> str:
    """A text listing of every registry and its own entries."""
    lines = []
    for key, registry in ALL_REGISTRIES.items():
        registry.import_from_location()
        names = sorted(registry.module_dict)
        lines.append(f"{key} ({registry.scope}::{registry.name}): {len(names)} entries")
        lines += [f"    {name}" for name in names]
    return "\n".join(lines)


if __name__ == "__main__":
    # Run from the imported module so the listing shows the registries components register into.
    from segformers import registry as _registry

    print(_registry.listing())
