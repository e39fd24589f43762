"""Turning PIL / numpy / torch inputs into flat lists of channels-first numpy arrays.

Images become ``[C, H, W]`` arrays in their original dtype; segmentation maps become ``[H, W]`` int64
arrays. Nothing here resizes or normalizes.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from PIL import Image

CHANNELS_FIRST = "channels_first"
CHANNELS_LAST = "channels_last"
_KNOWN_CHANNEL_COUNTS = (1, 3, 4)


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, Image.Image):
        return np.asarray(x)
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return x
    raise TypeError(
        f"expected a PIL.Image.Image, numpy.ndarray or torch.Tensor, got {type(x).__name__}; "
        "convert the input to one of these types"
    )


def flatten_inputs(inputs: Any, item_ndims: tuple[int, ...], what: str) -> list[Any]:
    """Flatten one item, a batched array (one more dimension than an item) or (nested) lists of
    them into a flat list of items. ``item_ndims`` lists the accepted dimensions of one item."""
    if isinstance(inputs, (list, tuple)):
        flat: list[Any] = []
        for x in inputs:
            flat.extend(flatten_inputs(x, item_ndims, what))
        return flat
    if isinstance(inputs, Image.Image):
        return [inputs]
    if isinstance(inputs, (np.ndarray, torch.Tensor)):
        if inputs.ndim in item_ndims:
            return [inputs]
        if inputs.ndim == max(item_ndims) + 1:
            return list(inputs)
        raise ValueError(
            f"a {what} array must have {' or '.join(map(str, item_ndims))} dimensions (one item) or "
            f"{max(item_ndims) + 1} (a batch), got shape {tuple(inputs.shape)}"
        )
    raise TypeError(
        f"{what}s must be PIL images, numpy arrays, torch tensors or lists of them, "
        f"got {type(inputs).__name__}"
    )


def check_data_format(fmt: Optional[str], name: str = "input_data_format") -> Optional[str]:
    """Validate a channel-format argument (``None``, ``"channels_first"`` or ``"channels_last"``)."""
    if fmt is None:
        return None
    value = getattr(fmt, "value", fmt)
    if value not in (CHANNELS_FIRST, CHANNELS_LAST):
        raise ValueError(f"{name} must be None, 'channels_first' or 'channels_last', got {fmt!r}")
    return value


def infer_channel_format(image: np.ndarray) -> str:
    """Channels-first if the first axis has 1, 3 or 4 entries (also when both ends do), else
    channels-last if the last one does."""
    if image.shape[0] in _KNOWN_CHANNEL_COUNTS:
        return CHANNELS_FIRST
    if image.shape[-1] in _KNOWN_CHANNEL_COUNTS:
        return CHANNELS_LAST
    raise ValueError(
        f"cannot tell which axis holds the channels of an image of shape {tuple(image.shape)}; "
        "pass input_data_format='channels_first' or 'channels_last'"
    )


def _pil_to_rgb(image: Image.Image) -> Image.Image:
    has_alpha = "A" in image.getbands() or image.info.get("transparency") is not None
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _array_to_rgb(image: np.ndarray) -> np.ndarray:
    """``[C, H, W]`` with 1 channel (repeated) or 4 (alpha composited on white) -> 3 channels."""
    channels = image.shape[0]
    if channels == 1:
        return np.repeat(image, 3, axis=0)
    if channels != 4:
        return image
    integer = np.issubdtype(image.dtype, np.integer)
    if not integer and (image.min() < 0.0 or image.max() > 1.0):
        raise ValueError("a floating-point RGBA image must have values in [0, 1] to be converted to RGB")
    white = 255 if integer else 1.0
    alpha = image[3:4] / white
    rgb = alpha * image[:3] + (1 - alpha) * white
    return np.round(rgb).astype(image.dtype) if integer else rgb.astype(image.dtype)


def image_to_chw(
    image: Any, input_data_format: Optional[str] = None, do_convert_rgb: bool = False
) -> np.ndarray:
    """One image (PIL, ``[H, W]``, ``[C, H, W]`` or ``[H, W, C]``) -> ``[C, H, W]`` numpy array."""
    if isinstance(image, Image.Image):
        if do_convert_rgb:
            image = _pil_to_rgb(image)
        array = np.asarray(image)
        array = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
    else:
        array = _to_numpy(image)
        if array.ndim == 2:
            array = array[None]
        elif array.ndim == 3:
            fmt = input_data_format or infer_channel_format(array)
            if fmt == CHANNELS_LAST:
                array = np.moveaxis(array, -1, 0)
        else:
            raise ValueError(f"an image must have 2 or 3 dimensions, got shape {tuple(array.shape)}")
        if do_convert_rgb:
            array = _array_to_rgb(array)
    if 0 in array.shape:
        raise ValueError(f"got an empty image of shape {tuple(array.shape)} (channels first)")
    return array


def map_to_2d(segmentation_map: Any) -> np.ndarray:
    """One segmentation map (PIL or ``[H, W]`` array of integer ids) -> ``[H, W]`` int64 array."""
    array = _to_numpy(segmentation_map)
    if array.ndim != 2:
        mode = f" (PIL mode {segmentation_map.mode})" if isinstance(segmentation_map, Image.Image) else ""
        raise ValueError(
            f"a segmentation map must be a single-channel [H, W] map of ids, got shape {tuple(array.shape)}"
            f"{mode}; convert RGB-encoded panoptic PNGs to ids first (id = R + 256 * G + 256**2 * B)"
        )
    if array.dtype == np.bool_ or np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64, copy=False)
    if np.issubdtype(array.dtype, np.floating):
        rounded = np.round(array)
        if np.array_equal(rounded, array):
            return rounded.astype(np.int64)
    raise ValueError(
        f"segmentation maps must hold integer ids, got dtype {array.dtype} with non-integer values; "
        "pass an integer array"
    )
