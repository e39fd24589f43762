"""Helpers shared by the metrics: reading predictions and ground truth out of data samples.

mmengine's ``Evaluator`` hands metrics ``sample.to_dict()`` (metainfo and data fields in one flat dict);
metrics called directly may get :class:`~segformers.structures.SegDataSample` objects. Both work here.
"""
from __future__ import annotations

import os.path as osp
from collections.abc import Mapping
from typing import Any, Optional, Sequence

import numpy as np
import torch
from mmengine.structures import BaseDataElement
from torch import Tensor

CONTRACT_HINT = "See the module docstring of segformers.evaluation for the expected data sample fields."


def as_dict(sample: Any) -> dict:
    """A data sample (``SegDataSample`` or dict) as a flat dict of metainfo and data fields."""
    if isinstance(sample, BaseDataElement):
        return sample.to_dict()
    if isinstance(sample, Mapping):
        return dict(sample)
    raise TypeError(f"A data sample must be a SegDataSample or a dict, got {type(sample).__name__}.")


def require(sample: dict, key: str, metric: str) -> Any:
    """``sample[key]``, or a ``KeyError`` naming the metric, the missing field and the contract."""
    if key not in sample or sample[key] is None:
        raise KeyError(
            f"{metric} needs the field '{key}' in every data sample, but it is missing "
            f"(present: {sorted(sample)}). {CONTRACT_HINT}"
        )
    return sample[key]


def prediction(sample: dict, key: str, metric: str) -> Any:
    """``sample['pred'][key]`` with a clear error when the model did not produce it."""
    pred = require(sample, "pred", metric)
    if isinstance(pred, BaseDataElement):
        pred = pred.to_dict()
    if not isinstance(pred, Mapping) or key not in pred:
        have = sorted(pred) if isinstance(pred, Mapping) else type(pred).__name__
        raise KeyError(
            f"{metric} needs pred['{key}'] but the prediction holds {have}. Enable the matching "
            f"post-processing in the model's test config. {CONTRACT_HINT}"
        )
    return pred[key]


def to_tensor(x: Any, name: str) -> Tensor:
    """A tensor or numpy array as a tensor (kept on its device)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    raise TypeError(f"'{name}' must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}.")


def label_map(x: Any, name: str) -> Tensor:
    """``[H, W]`` integer map from ``[H, W]``, ``[1, H, W]`` or (for predictions) ``[K, H, W]`` scores."""
    t = to_tensor(x, name)
    if t.ndim == 3 and t.shape[0] == 1 and not t.is_floating_point():
        t = t[0]
    elif t.ndim == 3:
        t = t.argmax(0)
    if t.ndim != 2:
        raise ValueError(f"'{name}' must be [H, W] labels or [K, H, W] scores, got {tuple(t.shape)}.")
    return t.long()


def check_same_size(pred: Tensor, gt: Tensor, sample: dict, what: str) -> None:
    """Raise if prediction and ground truth sizes differ (predictions must be at the original size)."""
    if tuple(pred.shape[-2:]) != tuple(gt.shape[-2:]):
        raise ValueError(
            f"{what}: prediction size {tuple(pred.shape[-2:])} differs from the ground truth size "
            f"{tuple(gt.shape[-2:])} for image {sample.get('img_path', '?')}. Predictions must be "
            f"resized to the original image size (metainfo 'ori_shape') before evaluation."
        )


def unpack_panoptic(value: Any, name: str) -> tuple[Tensor, list[dict]]:
    """``(id_map, segments_info)`` from a 2-tuple/list or a dict (id map under ``pan_seg`` or ``id_map``).

    Segments carrying a contiguous ``label`` (the datasets keep the original ``category_id`` next to
    it) get ``category_id = label``, so ``category_id`` is contiguous in what this returns.
    """
    if isinstance(value, Mapping):
        key = "pan_seg" if "pan_seg" in value else "id_map"
        if key not in value or "segments_info" not in value:
            raise KeyError(f"'{name}' as a dict needs 'pan_seg' (or 'id_map') and 'segments_info', got {sorted(value)}.")
        id_map, segments = value[key], value["segments_info"]
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        id_map, segments = value
    else:
        raise TypeError(f"'{name}' must be (id_map, segments_info) or a dict of both. {CONTRACT_HINT}")
    id_map = to_tensor(id_map, f"{name} id map")
    if id_map.ndim == 3 and id_map.shape[0] == 1:
        id_map = id_map[0]
    if id_map.ndim != 2:
        raise ValueError(f"'{name}' id map must be [H, W], got {tuple(id_map.shape)}.")
    segments = [dict(s, category_id=s["label"]) if "label" in s else dict(s) for s in segments]
    return id_map.long(), segments


def image_stem(sample: dict, suffix: str = "_leftImg8bit") -> str:
    """File name of ``img_path`` without extension and without ``suffix`` (Cityscapes naming)."""
    path = require(sample, "img_path", "Cityscapes evaluation")
    stem = osp.splitext(osp.basename(path))[0]
    return stem[: -len(suffix)] if suffix and stem.endswith(suffix) else stem


def class_names(dataset_meta: Optional[dict], num_classes: int) -> list[str]:
    """``dataset_meta['classes']`` when it has ``num_classes`` entries, else ``class_0, class_1, ...``."""
    names = (dataset_meta or {}).get("classes")
    if names is not None and len(names) == num_classes:
        return [str(n) for n in names]
    return [f"class_{i}" for i in range(num_classes)]


def resolve_num_classes(num_classes: Optional[int], dataset_meta: Optional[dict], metric: str) -> int:
    """The explicit ``num_classes``, else ``len(dataset_meta['classes'])``."""
    if num_classes is not None:
        return int(num_classes)
    names = (dataset_meta or {}).get("classes")
    if names is None:
        raise ValueError(
            f"{metric} does not know the number of classes: pass num_classes=K or evaluate a dataset "
            f"whose metainfo has 'classes'."
        )
    return len(names)


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table; floats are printed with two decimals."""
    cells = [[f"{c:.2f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max([len(str(h))] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [" | ".join(str(h).ljust(w) for h, w in zip(header, widths)), line]
    out += [" | ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join(out)
