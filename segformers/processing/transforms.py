"""Size rules, resizing (Pillow), rescaling, normalization and batch padding on ``[C, H, W]`` arrays."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Optional, Union

import numpy as np
from PIL import Image

SIZE_KEY_SETS = (
    {"shortest_edge", "longest_edge"},
    {"shortest_edge"},
    {"height", "width"},
    {"max_height", "max_width"},
)


def check_size(size: Mapping[str, int], name: str = "size") -> dict[str, int]:
    """Validate a size dict: one of ``SIZE_KEY_SETS`` with positive integer values."""
    if not isinstance(size, Mapping):
        raise TypeError(
            f"{name} must be a dict such as {{'shortest_edge': 800, 'longest_edge': 1333}}, got {size!r}"
        )
    size = {k: v for k, v in dict(size).items() if v is not None}
    if set(size) not in SIZE_KEY_SETS:
        allowed = ", ".join(str(sorted(s)) for s in SIZE_KEY_SETS)
        raise ValueError(f"{name} must have exactly one of these key sets: {allowed}; got {sorted(size)}")
    for key, value in size.items():
        if isinstance(value, bool) or int(value) != value or value <= 0:
            raise ValueError(f"{name}[{key!r}] must be a positive integer, got {value!r}")
    return {k: int(v) for k, v in size.items()}


def _shortest_longest(height: int, width: int, shortest: int, longest: Optional[int]) -> tuple[int, int]:
    """Scale the short side to ``shortest`` unless that pushes the long side over ``longest``
    (then the long side decides); sizes are truncated like torchvision's ``Resize``."""
    raw: Optional[float] = None
    if longest is not None:
        short_side, long_side = float(min(height, width)), float(max(height, width))
        if long_side / short_side * shortest > longest:
            raw = longest * short_side / long_side
            shortest = int(round(raw))
    if (height <= width and height == shortest) or (width <= height and width == shortest):
        return height, width
    scale_base = raw if raw is not None else shortest
    if width < height:
        return int(scale_base * height / width), shortest
    return shortest, int(scale_base * width / height)


def _shortest_only(height: int, width: int, shortest: int) -> tuple[int, int]:
    if width <= height:
        return int(shortest * height / width), shortest
    return shortest, int(shortest * width / height)


def resized_shape(height: int, width: int, size: Mapping[str, int], size_divisor: int = 0) -> tuple[int, int]:
    """Output ``(height, width)`` of the resize step; with ``size_divisor > 0`` both sides are then
    rounded *up* to a multiple of it (the image is stretched slightly, as in transformers)."""
    if "longest_edge" in size:
        new_h, new_w = _shortest_longest(height, width, size["shortest_edge"], size["longest_edge"])
    elif "shortest_edge" in size:
        new_h, new_w = _shortest_only(height, width, size["shortest_edge"])
    elif "max_height" in size:
        scale = min(size["max_height"] / height, size["max_width"] / width)
        new_h, new_w = int(height * scale), int(width * scale)
    else:
        new_h, new_w = size["height"], size["width"]
    if size_divisor and size_divisor > 0:
        new_h = int(math.ceil(new_h / size_divisor) * size_divisor)
        new_w = int(math.ceil(new_w / size_divisor) * size_divisor)
    if new_h <= 0 or new_w <= 0:
        raise ValueError(f"resizing a {height}x{width} image with size={dict(size)} gives an empty image")
    return new_h, new_w


def _pil_resize(array2d_or_hwc: np.ndarray, out_hw: tuple[int, int], resample: int) -> np.ndarray:
    resized = Image.fromarray(array2d_or_hwc).resize((out_hw[1], out_hw[0]), resample=resample)
    return np.asarray(resized)


def _is_uint8_valued(image: np.ndarray) -> bool:
    if image.dtype == np.uint8:
        return True
    if image.dtype == np.bool_ or image.size == 0:
        return False
    if not np.issubdtype(image.dtype, np.integer) and not np.array_equal(image, np.floor(image)):
        return False
    return bool(image.min() >= 0 and image.max() <= 255)


def resize_image(image: np.ndarray, out_hw: tuple[int, int], resample: int) -> np.ndarray:
    """Resize a ``[C, H, W]`` image with Pillow.

    Images whose values are integers in [0, 255] go through 8-bit Pillow images (1-4 channels in one
    image, exactly as transformers does; the result is uint8). Any other image is resized channel by
    channel as 32-bit float images, without quantization (the result is float32).
    """
    channels = image.shape[0]
    if _is_uint8_valued(image):
        hwc = np.moveaxis(image.astype(np.uint8, copy=False), 0, -1)
        if channels == 1:
            return _pil_resize(hwc[..., 0], out_hw, resample)[None]
        if channels <= 4:
            return np.moveaxis(_pil_resize(hwc, out_hw, resample), -1, 0)
        planes = [_pil_resize(np.ascontiguousarray(hwc[..., c]), out_hw, resample) for c in range(channels)]
        return np.stack(planes, axis=0)
    planes = [
        _pil_resize(np.ascontiguousarray(image[c], dtype=np.float32), out_hw, resample) for c in range(channels)
    ]
    return np.stack(planes, axis=0)


def resize_map(segmentation_map: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an ``[H, W]`` int64 id map (Pillow's index rule; ids in the
    int32 range, negative ones included)."""
    if segmentation_map.shape == tuple(out_hw):
        return segmentation_map
    low, high = int(segmentation_map.min()), int(segmentation_map.max())
    if 0 <= low and high <= 255:
        small = segmentation_map.astype(np.uint8)
    elif -(2**31) <= low and high < 2**31:
        small = segmentation_map.astype(np.int32)
    else:
        raise ValueError(f"segmentation ids must fit in int32 to be resized, got range [{low}, {high}]")
    return _pil_resize(small, out_hw, Image.Resampling.NEAREST).astype(np.int64)


def rescale(image: np.ndarray, factor: float) -> np.ndarray:
    """``image * factor`` computed in float64, returned as float32."""
    return (image.astype(np.float64) * factor).astype(np.float32)


def normalize(
    image: np.ndarray, mean: Union[float, Sequence[float]], std: Union[float, Sequence[float]]
) -> np.ndarray:
    """``(image - mean) / std`` per channel, in the image's float dtype (float32 for integer images)."""
    if not np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)
    channels = image.shape[0]
    stats = []
    for name, value in (("image_mean", mean), ("image_std", std)):
        values = np.atleast_1d(np.asarray(value, dtype=image.dtype))
        if values.size == 1:
            values = np.repeat(values, channels)
        if values.shape != (channels,):
            raise ValueError(
                f"{name} has {values.size} values but the image has {channels} channels; "
                f"pass one value per channel (or do_convert_rgb=True for grey/RGBA images)"
            )
        stats.append(values[:, None, None])
    out = np.subtract(image, stats[0])
    return np.divide(out, stats[1], out=out)


def rescale_and_normalize(
    image: np.ndarray,
    factor: Optional[float],
    mean: Optional[Union[float, Sequence[float]]],
    std: Optional[Union[float, Sequence[float]]],
) -> np.ndarray:
    """:func:`rescale` (if ``factor`` is not None) then :func:`normalize` (if ``mean`` is not None).

    uint8 images go through a per-channel 256-entry table built by running those same two functions
    on every possible value, so the result is bit-identical and much cheaper to compute.
    """
    def apply(x: np.ndarray) -> np.ndarray:
        x = rescale(x, factor) if factor is not None else x
        return normalize(x, mean, std) if mean is not None else x

    if factor is None and mean is None:
        return image
    if image.dtype != np.uint8:
        return apply(image)
    channels = image.shape[0]
    table = apply(np.broadcast_to(np.arange(256, dtype=np.uint8), (channels, 1, 256)).copy())[:, 0, :]
    out = np.empty(image.shape, dtype=table.dtype)
    for c in range(channels):
        np.take(table[c], image[c], out=out[c])
    return out


def padded_shape(shapes: Sequence[tuple[int, int]], pad_size: Optional[Mapping[str, int]]) -> tuple[int, int]:
    """The batch's padded ``(H, W)``: ``pad_size`` if given (it must hold every image), else the
    largest height and width."""
    max_h = max(h for h, _ in shapes)
    max_w = max(w for _, w in shapes)
    if pad_size is None:
        return max_h, max_w
    target = (int(pad_size["height"]), int(pad_size["width"]))
    if target[0] < max_h or target[1] < max_w:
        raise ValueError(
            f"pad_size {target} is smaller than an image of the batch ({max_h}, {max_w}); "
            "pass a larger pad_size or leave it None to pad to the largest image"
        )
    return target


def pad_images(images: Sequence[np.ndarray], out_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Zero-pad ``[C, h, w]`` images at the bottom/right into one ``[B, C, H, W]`` array and return
    it with the ``[B, H, W]`` int64 pixel mask (1 = real pixel)."""
    channels = {im.shape[0] for im in images}
    if len(channels) != 1:
        raise ValueError(
            f"all images of a batch must have the same number of channels, got {sorted(channels)}"
        )
    dtype = np.result_type(*images)
    batch = np.zeros((len(images), channels.pop(), *out_hw), dtype=dtype)
    mask = np.zeros((len(images), *out_hw), dtype=np.int64)
    for i, image in enumerate(images):
        h, w = image.shape[-2:]
        batch[i, :, :h, :w] = image
        mask[i, :h, :w] = 1
    return batch, mask


def pad_masks(masks: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Zero-pad ``[N, h, w]`` binary masks to ``[N, H, W]`` float32 (padding is *not* part of any
    segment, so it stays 0)."""
    out = np.zeros((masks.shape[0], *out_hw), dtype=np.float32)
    out[:, : masks.shape[1], : masks.shape[2]] = masks
    return out
