"""Checking config values against a component's type hints where they enter it (at build time).

The registries of :mod:`segformers.registry` call :func:`type_mismatch` before building a component:
every argument whose constructor parameter has a type hint is compared with it, so that
``num_queries="30"`` fails with the component, the key, the expected type and the value instead of a
torch-internal error deep inside ``nn.Embedding`` (where the component checks its arguments itself and
raises a ``ValueError``, that error is kept: it says more). Understood: ``int`` / ``float`` / ``str`` / ``bool``
and the builtin containers, ``Optional`` / ``Union``, ``Literal``, ``list[X]`` / ``tuple[X, ...]`` /
``tuple[X, Y]`` / ``Sequence[X]`` (a list or a tuple either way, as configs write them) and
``dict[K, V]`` / ``Mapping[K, V]``. Any other class (``nn.Module``, ``Tensor``, ``Path``, ...) is not
checked: a sub-config dict or a built object may stand there. Hints that cannot be resolved (names
imported under ``TYPE_CHECKING`` with ``from __future__ import annotations``) are skipped.
"""
from __future__ import annotations

import collections.abc as cabc
import functools
import inspect
import numbers
import types
import typing
from typing import Any, Callable, Optional, Union

_NONE = type(None)
_SEQUENCES = (list, tuple, set, frozenset, cabc.Sequence, cabc.Iterable, cabc.Collection, cabc.MutableSequence)
_MAPPINGS = (dict, cabc.Mapping, cabc.MutableMapping)
_UNION_TYPES = (Union, types.UnionType)


def _callable_of(target: Any) -> Callable:
    func = target.__init__ if isinstance(target, type) else target
    return inspect.unwrap(func)


@functools.lru_cache(maxsize=None)
def parameter_hints(target: Any) -> dict[str, tuple[Any, Any]]:
    """``{parameter: (type hint, default)}`` of a class's ``__init__`` or of a function (resolvable hints only)."""
    func = _callable_of(target)
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return {}
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # one unresolvable name: resolve the others one by one
        hints = {}
        namespace = getattr(func, "__globals__", {})
        for name, ann in getattr(func, "__annotations__", {}).items():
            try:
                hints[name] = eval(ann, namespace) if isinstance(ann, str) else ann  # noqa: S307
            except Exception:
                continue
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {n: (hints[n], p.default) for n, p in params.items()
            if n in hints and p.kind in kinds and not isinstance(hints[n], str)}  # a quoted name left unresolved


def matches(value: Any, hint: Any) -> bool:
    """Whether a config value fits a type hint (see the module docstring for what is checked)."""
    if hint is Any or hint is object or isinstance(hint, (typing.TypeVar, str, typing.ForwardRef)):
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in _UNION_TYPES:
        return any(matches(value, arm) for arm in args)
    if origin is typing.Literal:
        return value in args
    if hint is _NONE:
        return value is None
    if origin is not None:
        return _matches_generic(value, origin, args)
    return _matches_class(value, hint)


def _matches_class(value: Any, hint: Any) -> bool:
    if not isinstance(hint, type):
        return True
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint in _MAPPINGS:
        return isinstance(value, cabc.Mapping)
    if hint in _SEQUENCES:
        return isinstance(value, (list, tuple, set, frozenset))
    return True  # any other class: a sub-config, a built object or a value torch converts itself


def _matches_generic(value: Any, origin: Any, args: tuple) -> bool:
    if origin in _MAPPINGS:
        if not isinstance(value, cabc.Mapping):
            return False
        key_hint, value_hint = args if len(args) == 2 else (Any, Any)
        return all(matches(k, key_hint) and matches(v, value_hint) for k, v in value.items())
    if origin in _SEQUENCES:
        if not isinstance(value, (list, tuple, set, frozenset)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(matches(v, a) for v, a in zip(value, args))
        element = args[0] if args else Any
        return all(matches(v, element) for v in value)
    if origin is type:
        return isinstance(value, type)
    return True  # Callable[...], Iterator[...], ...: not checked


def describe(hint: Any) -> str:
    """A short readable form of a type hint (``Optional[int]``, ``list[float]``)."""
    if isinstance(hint, type) and typing.get_origin(hint) is None:
        return hint.__name__
    return str(hint).replace("typing.", "").replace("NoneType", "None")


def type_mismatch(target: Any, args: typing.Mapping[str, Any], component: str) -> Optional[str]:
    """A message naming ``component``, the key, the expected type and the value of the first argument in
    ``args`` that does not fit ``target``'s type hints (``None`` fits a ``None`` default); ``None`` if all fit."""
    hints = parameter_hints(target) if _hashable(target) else {}
    for key, value in args.items():
        if key not in hints:
            continue
        hint, default = hints[key]
        if value is None and default is None:
            continue
        if not matches(value, hint):
            return (f"{component}: argument {key}={value!r} ({type(value).__name__}) does not fit its type "
                    f"{describe(hint)}; fix {key} in the config")
    return None


def _hashable(target: Any) -> bool:
    try:
        hash(target)
    except TypeError:
        return False
    return True
