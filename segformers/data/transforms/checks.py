"""The results-dict contract of :mod:`.base`, checked where a transform receives it.

Every transform calls :func:`check_results` on its input, so an image or target of the wrong kind fails
with a ``ValueError`` / ``TypeError`` naming the transform and the key (``results['img']``) instead of a
numpy, PIL or OpenCV error from deep inside the transform. Only shapes and dtypes are checked (cheap);
:func:`check_labels` checks the class ids once, where :class:`~.formatting.PackSegInputs` packs them.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def _array(results: dict, key: str, step: str) -> np.ndarray:
    value = results[key]
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{step}: results['{key}'] must be a numpy array, got {type(value).__name__}")
    return value


def _check_image(results: dict, step: str) -> tuple[int, int]:
    img = _array(results, "img", step)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(
            f"{step}: results['img'] must be a uint8 RGB array [H, W, 3], got {img.dtype} of shape {img.shape}; "
            "read files with LoadImageFromFile, or convert the array (gray -> 3 channels, values 0-255, "
            "channels last)"
        )
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"{step}: results['img'] is empty (shape {img.shape})")
    return img.shape[0], img.shape[1]


def _check_integer(results: dict, key: str, ndim: int, hw: Any, step: str) -> np.ndarray:
    value = _array(results, key, step)
    if value.ndim != ndim or not (np.issubdtype(value.dtype, np.integer) or value.dtype == np.bool_ and ndim == 3):
        kind = "an integer [H, W]" if ndim == 2 else "a bool [N, H, W]"
        raise ValueError(f"{step}: results['{key}'] must be {kind} array, got {value.dtype} of shape {value.shape}")
    # evaluation pipelines resize only the image: targets stay at the original size (``ori_shape``)
    sizes = {hw, tuple(results.get("ori_shape") or ())}
    if hw is not None and tuple(value.shape[-2:]) not in sizes:
        raise ValueError(f"{step}: results['{key}'] is {value.shape[-2]}x{value.shape[-1]} but results['img'] is "
                         f"{hw[0]}x{hw[1]}; targets must have their image's height and width (or ori_shape's)")
    return value


def check_results(results: Any, step: str) -> None:
    """Raise if ``results`` does not hold what :mod:`.base` documents (for the keys present)."""
    if not isinstance(results, dict):
        raise TypeError(f"{step}: expects the results dict of one sample, got {type(results).__name__}")
    hw = _check_image(results, step) if "img" in results else None
    for key in ("gt_sem_seg", "gt_pan_seg"):
        if key in results:
            _check_integer(results, key, 2, hw, step)
    if "gt_masks" in results:
        masks = _check_integer(results, "gt_masks", 3, hw, step)
        for key in ("gt_labels", "gt_seg_ids"):
            value = np.asarray(results.get(key, ()))
            if value.shape != (masks.shape[0],) or not np.issubdtype(value.dtype, np.integer) and value.size:
                raise ValueError(f"{step}: results['{key}'] must hold one integer per mask of results['gt_masks'] "
                                 f"({masks.shape[0]}), got {value.dtype} of shape {value.shape}")


def check_labels(labels: np.ndarray, key: str, step: str) -> None:
    """Class ids handed to the model must be >= 0 (a negative one would index the classifier from its end)."""
    negative = np.unique(labels[labels < 0])
    if negative.size:
        raise ValueError(f"{step}: results['{key}'] gives negative class ids {negative[:10].tolist()} (not "
                         "ignore_index); class ids must be >= 0 (set ignore_index to the value of unlabelled pixels)")
