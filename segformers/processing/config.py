"""Argument normalization for the image processors and their batch output container."""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Union

import numpy as np
import torch
from PIL import Image

from .transforms import check_size

IMAGENET_DEFAULT_MEAN = (0.485, 0.456, 0.406)
IMAGENET_DEFAULT_STD = (0.229, 0.224, 0.225)
DEFAULT_SIZE = {"shortest_edge": 800, "longest_edge": 1333}
RETURN_TENSORS = ("pt", "np", None)
# keys of transformers' preprocessor_config.json files that carry no setting for us
IGNORED_CONFIG_KEYS = frozenset(
    {"image_processor_type", "feature_extractor_type", "processor_class", "auto_map", "_max_size",
     "default_to_square", "data_format", "do_pad"}
)


class ProcessorOutput(dict):
    """A dict of model inputs (``pixel_values``, ``pixel_mask``, ``mask_labels``, ``class_labels``)
    that also allows attribute access and ``.to(device)``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"ProcessorOutput has no field {name!r}; fields: {sorted(self)}") from None

    def to(self, *args: Any, **kwargs: Any) -> "ProcessorOutput":
        """Move every tensor (also inside lists) with ``Tensor.to(*args, **kwargs)``."""

        def move(v: Any) -> Any:
            if isinstance(v, torch.Tensor):
                return v.to(*args, **kwargs)
            if isinstance(v, list):
                return [move(x) for x in v]
            return v

        return ProcessorOutput({k: move(v) for k, v in self.items()})


def normalize_size(
    size: Union[None, int, Sequence[int], Mapping[str, int]], max_size: Optional[int]
) -> dict[str, int]:
    """``None`` -> default (``max_size`` overrides its longest edge); int -> shortest edge (plus
    ``max_size`` as longest edge); ``(h, w)`` -> fixed size; dict -> validated copy."""
    if size is None:
        size = dict(DEFAULT_SIZE)
        if max_size is not None:
            size["longest_edge"] = max_size
    elif isinstance(size, int) and not isinstance(size, bool):
        size = {"shortest_edge": size}
        if max_size is not None:
            size["longest_edge"] = max_size
    elif isinstance(size, (list, tuple)):
        if len(size) != 2:
            raise ValueError(f"size as a sequence must be (height, width), got {size!r}")
        size = {"height": size[0], "width": size[1]}
    return check_size(size)


def normalize_pad_size(pad_size: Optional[Mapping[str, int]]) -> Optional[dict[str, int]]:
    """``None`` or ``{"height": H, "width": W}``."""
    if pad_size is None:
        return None
    if isinstance(pad_size, (list, tuple)) and len(pad_size) == 2:
        pad_size = {"height": pad_size[0], "width": pad_size[1]}
    if not isinstance(pad_size, Mapping) or set(pad_size) != {"height", "width"}:
        raise ValueError(f"pad_size must be None or {{'height': H, 'width': W}}, got {pad_size!r}")
    return check_size(pad_size, name="pad_size")


def normalize_resample(resample: Union[int, Image.Resampling]) -> int:
    """A Pillow resampling filter as an int (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box,
    5 hamming)."""
    try:
        return int(Image.Resampling(int(resample)))
    except (TypeError, ValueError):
        raise ValueError(f"resample must be a PIL.Image.Resampling filter (0-5), got {resample!r}") from None


def normalize_stats(values: Union[float, Sequence[float]], name: str) -> Union[float, tuple[float, ...]]:
    """Mean / std as a float or a tuple of floats."""
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        return float(values)
    values = tuple(float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1))
    if not values:
        raise ValueError(f"{name} must not be empty")
    return values


def check_return_tensors(return_tensors: Optional[str]) -> Optional[str]:
    """Only ``"pt"``, ``"np"`` or ``None`` (lists of numpy arrays)."""
    value = getattr(return_tensors, "value", return_tensors)
    if value not in RETURN_TENSORS:
        raise ValueError(f"return_tensors must be 'pt', 'np' or None, got {return_tensors!r}")
    return value


def pop_legacy_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Translate the old transformers names ``reduce_labels`` and ``size_divisibility`` (with a
    FutureWarning) and reject any other unknown argument."""
    renamed = {"reduce_labels": "do_reduce_labels", "size_divisibility": "size_divisor"}
    out = {}
    for old, new in renamed.items():
        if old in kwargs:
            warnings.warn(f"`{old}` is deprecated, use `{new}`", FutureWarning, stacklevel=3)
            out[new] = kwargs.pop(old)
    if kwargs:
        raise TypeError(f"unexpected argument(s) {sorted(kwargs)}")
    return out
