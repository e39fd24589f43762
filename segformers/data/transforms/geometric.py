"""Geometric transforms: each moves the image and every target of the results dict together.

The image is resized with PIL bilinear (as detectron2's ``ResizeTransform`` does for uint8 images);
label maps and masks use nearest-neighbour indices that reproduce PIL's ``NEAREST`` exactly, so an
output pixel's label is always the label of one input pixel. Padding fills the image with
``pad_value`` (128 in the official mappers), ``gt_sem_seg`` with ``seg_pad_value`` (the ignore
index), ``gt_pan_seg`` with 0 (void) and masks with ``False``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Optional, Union

import numpy as np
from PIL import Image

from segformers.registry import TRANSFORMS

from .base import BaseTransform, RandomTransform

MAP_KEYS = ("gt_sem_seg", "gt_pan_seg")
_PIL_INTERP = {"bilinear": Image.BILINEAR, "nearest": Image.NEAREST, "bicubic": Image.BICUBIC}


def nearest_indices(n_in: int, n_out: int) -> np.ndarray:
    """Source index of every output index for a nearest resize ``n_in -> n_out`` (PIL's rule).

    PIL walks the output with a float64 accumulator starting at half a step: ``x_in = floor(x_0 +
    k * step)`` summed step by step, which ``np.cumsum`` reproduces bit for bit.
    """
    step = n_in / n_out
    acc = np.full(n_out, step)
    acc[0] = step * 0.5
    return np.clip(np.cumsum(acc).astype(np.int64), 0, n_in - 1)


def resize_results(results: dict, out_hw: tuple[int, int], interp: str = "bilinear") -> None:
    """Resize the image and all targets in place to ``out_hw`` = (H, W)."""
    h, w = results["img"].shape[:2]
    nh, nw = int(out_hw[0]), int(out_hw[1])
    if (nh, nw) == (h, w):
        return
    results["img"] = np.asarray(Image.fromarray(results["img"]).resize((nw, nh), _PIL_INTERP[interp]))
    ys, xs = nearest_indices(h, nh), nearest_indices(w, nw)
    for key in MAP_KEYS:
        if key in results:
            results[key] = results[key][ys[:, None], xs[None, :]]
    if "gt_masks" in results:
        results["gt_masks"] = np.take(np.take(results["gt_masks"], ys, axis=1), xs, axis=2)
    sx, sy = results.get("scale_factor", (1.0, 1.0))
    results["scale_factor"] = (sx * nw / w, sy * nh / h)
    results["img_shape"] = (nh, nw)


def crop_results(results: dict, y0: int, x0: int, h: int, w: int) -> None:
    """Crop the image and all targets in place to rows ``y0:y0+h`` and columns ``x0:x0+w``."""
    results["img"] = np.ascontiguousarray(results["img"][y0 : y0 + h, x0 : x0 + w])
    for key in MAP_KEYS:
        if key in results:
            results[key] = np.ascontiguousarray(results[key][y0 : y0 + h, x0 : x0 + w])
    if "gt_masks" in results:
        results["gt_masks"] = np.ascontiguousarray(results["gt_masks"][:, y0 : y0 + h, x0 : x0 + w])
    results["img_shape"] = results["img"].shape[:2]


def pad_results(results: dict, out_hw: tuple[int, int], pad_value: float, seg_pad_value: int) -> None:
    """Pad the image and all targets at the bottom / right in place up to ``out_hw``."""
    h, w = results["img"].shape[:2]
    ph, pw = max(int(out_hw[0]) - h, 0), max(int(out_hw[1]) - w, 0)
    if ph == 0 and pw == 0:
        return
    results["img"] = np.pad(results["img"], ((0, ph), (0, pw), (0, 0)), constant_values=pad_value)
    if "gt_sem_seg" in results:
        sem = results["gt_sem_seg"]
        results["gt_sem_seg"] = np.pad(sem, ((0, ph), (0, pw)), constant_values=seg_pad_value)
    if "gt_pan_seg" in results:
        results["gt_pan_seg"] = np.pad(results["gt_pan_seg"], ((0, ph), (0, pw)), constant_values=0)
    if "gt_masks" in results:
        results["gt_masks"] = np.pad(results["gt_masks"], ((0, 0), (0, ph), (0, pw)), constant_values=False)
    results["img_shape"] = results["img"].shape[:2]


def flip_results(results: dict, direction: str) -> None:
    """Flip the image and all targets in place (``horizontal`` or ``vertical``)."""
    axis = {"horizontal": 1, "vertical": 0}[direction]
    results["img"] = np.ascontiguousarray(np.flip(results["img"], axis))
    for key in MAP_KEYS:
        if key in results:
            results[key] = np.ascontiguousarray(np.flip(results[key], axis))
    if "gt_masks" in results:
        results["gt_masks"] = np.ascontiguousarray(np.flip(results["gt_masks"], axis + 1))


def shortest_edge_shape(h: int, w: int, short: int, max_size: int) -> tuple[int, int]:
    """detectron2's ``ResizeShortestEdge.get_output_shape``: short side -> ``short``, long <= ``max_size``."""
    scale = short / min(h, w)
    newh, neww = (short, scale * w) if h < w else (scale * h, short)
    if max(newh, neww) > max_size:
        rescale = max_size / max(newh, neww)
        newh, neww = newh * rescale, neww * rescale
    return max(int(newh + 0.5), 1), max(int(neww + 0.5), 1)


@TRANSFORMS.register_module()
class ResizeShortestEdge(RandomTransform):
    """Resize so the short side is a sampled length, keeping the long side <= ``max_size``.

    Args:
        short_edge_length: one length, or the candidates (``choice``) / ``[min, max]`` (``range``).
        max_size: upper bound of the long side.
        sample_style: ``"choice"`` picks one of the lengths, ``"range"`` an integer in ``[min, max]``.
        interp: image interpolation (``bilinear``); targets always use nearest.
    """

    def __init__(
        self,
        short_edge_length: Union[int, Sequence[int]],
        max_size: int = 10**9,
        sample_style: str = "range",
        interp: str = "bilinear",
        seed: Optional[int] = None,
    ) -> None:
        super().__init__(seed)
        if isinstance(short_edge_length, int):
            short_edge_length = (short_edge_length, short_edge_length)
        if sample_style not in ("range", "choice"):
            raise ValueError(f"sample_style must be 'range' or 'choice', got {sample_style!r}")
        if sample_style == "range" and len(short_edge_length) != 2:
            raise ValueError(f"sample_style='range' needs [min, max], got {list(short_edge_length)}")
        self.short_edge_length = tuple(int(s) for s in short_edge_length)
        self.max_size = max_size
        self.sample_style = sample_style
        self.interp = interp

    def transform(self, results: dict) -> dict:
        if self.sample_style == "range":
            short = int(self.rng.randint(self.short_edge_length[0], self.short_edge_length[1] + 1))
        else:
            short = int(self.rng.choice(self.short_edge_length))
        if short == 0:
            return results
        h, w = results["img"].shape[:2]
        resize_results(results, shortest_edge_shape(h, w, short, self.max_size), self.interp)
        return results


@TRANSFORMS.register_module()
class ResizeScale(RandomTransform):
    """Large-scale jitter resize: fit the image into ``target_size * s``, ``s ~ U(min_scale, max_scale)``.

    Output size = ``round((H, W) * min(s*th/H, s*tw/W))`` (detectron2 ``ResizeScale``).
    """

    def __init__(
        self,
        min_scale: float,
        max_scale: float,
        target_size: Sequence[int],
        interp: str = "bilinear",
        seed: Optional[int] = None,
    ) -> None:
        super().__init__(seed)
        self.min_scale = min_scale
        self.max_scale = max_scale
        self.target_size = tuple(int(v) for v in target_size)
        self.interp = interp

    def transform(self, results: dict) -> dict:
        scale = self.rng.uniform(self.min_scale, self.max_scale)
        h, w = results["img"].shape[:2]
        target = np.multiply(self.target_size, scale)
        out_scale = min(target[0] / h, target[1] / w)
        out = np.maximum(np.round(np.multiply((h, w), out_scale)).astype(int), 1)
        resize_results(results, (int(out[0]), int(out[1])), self.interp)
        return results


@TRANSFORMS.register_module()
class FixedSizeCrop(RandomTransform):
    """Crop to ``crop_size`` where the image is larger, then pad bottom / right up to it.

    The crop offset is ``round(max(0, (H, W) - crop) * u)`` with one ``u ~ U(0, 1)`` shared by both
    axes (detectron2 ``FixedSizeCrop``); the image pads with ``pad_value`` (128), ``gt_sem_seg``
    with ``seg_pad_value`` (255).
    """

    def __init__(
        self,
        crop_size: Sequence[int],
        pad: bool = True,
        pad_value: float = 128.0,
        seg_pad_value: int = 255,
        seed: Optional[int] = None,
    ) -> None:
        super().__init__(seed)
        self.crop_size = tuple(int(v) for v in crop_size)
        self.pad = pad
        self.pad_value = pad_value
        self.seg_pad_value = seg_pad_value

    def transform(self, results: dict) -> dict:
        h, w = results["img"].shape[:2]
        max_offset = np.maximum(np.subtract((h, w), self.crop_size), 0)
        offset = np.round(max_offset * self.rng.uniform(0.0, 1.0)).astype(int)
        crop_results(results, int(offset[0]), int(offset[1]), *self.crop_size)
        if self.pad:
            pad_results(results, self.crop_size, self.pad_value, self.seg_pad_value)
        return results


def crop_size_for(crop_type: str, crop_size: Sequence[float], h: int, w: int, rng) -> tuple[int, int]:
    """detectron2 ``RandomCrop.get_crop_size`` for the four crop types; result <= (h, w)."""
    ch, cw = crop_size
    if crop_type == "relative":
        return int(h * ch + 0.5), int(w * cw + 0.5)
    if crop_type == "relative_range":
        rh, rw = np.asarray(crop_size, dtype=np.float32) + rng.rand(2) * (1 - np.asarray(crop_size))
        return int(h * rh + 0.5), int(w * rw + 0.5)
    if crop_type == "absolute":
        return min(int(ch), h), min(int(cw), w)
    if crop_type == "absolute_range":
        lo, hi = int(ch), int(cw)
        return rng.randint(min(h, lo), min(h, hi) + 1), rng.randint(min(w, lo), min(w, hi) + 1)
    raise ValueError(f"unknown crop_type {crop_type!r}")


@TRANSFORMS.register_module()
class RandomCrop(RandomTransform):
    """Random crop, optionally with the single-category area constraint of MaskFormer.

    With ``single_category_max_area < 1`` up to 10 offsets (one crop size) are drawn until no
    single class of ``gt_sem_seg`` (ignoring ``ignore_index``) covers that fraction of the crop and
    at least two classes are present (detectron2 ``RandomCrop_CategoryAreaConstraint``); with 1.0
    (the official setting) it is a plain ``RandomCrop``.

    Args:
        crop_size: (h, w); meaning depends on ``crop_type`` (``absolute``, ``relative``,
            ``relative_range``, ``absolute_range`` as in detectron2).
    """

    def __init__(
        self,
        crop_size: Sequence[float],
        crop_type: str = "absolute",
        single_category_max_area: float = 1.0,
        ignore_index: int = 255,
        seed: Optional[int] = None,
    ) -> None:
        super().__init__(seed)
        self.crop_size = tuple(crop_size)
        self.crop_type = crop_type
        self.single_category_max_area = single_category_max_area
        self.ignore_index = ignore_index

    def _offset(self, h: int, w: int, ch: int, cw: int) -> tuple[int, int]:
        return int(self.rng.randint(h - ch + 1)), int(self.rng.randint(w - cw + 1))

    def transform(self, results: dict) -> dict:
        h, w = results["img"].shape[:2]
        ch, cw = crop_size_for(self.crop_type, self.crop_size, h, w, self.rng)
        sem = results.get("gt_sem_seg")
        if self.single_category_max_area >= 1.0 or sem is None:
            y0, x0 = self._offset(h, w, ch, cw)
        else:  # up to 10 offsets; the last one is kept even if it fails
            for _ in range(10):
                y0, x0 = self._offset(h, w, ch, cw)
                labels, counts = np.unique(sem[y0 : y0 + ch, x0 : x0 + cw], return_counts=True)
                counts = counts[labels != self.ignore_index]
                if len(counts) > 1 and counts.max() < counts.sum() * self.single_category_max_area:
                    break
        crop_results(results, y0, x0, ch, cw)
        return results


@TRANSFORMS.register_module()
class RandomFlip(RandomTransform):
    """Flip with probability ``prob`` (``horizontal`` or ``vertical``); sets ``flip`` / ``flip_direction``."""

    def __init__(self, prob: float = 0.5, direction: str = "horizontal", seed: Optional[int] = None) -> None:
        super().__init__(seed)
        if direction not in ("horizontal", "vertical"):
            raise ValueError(f"direction must be 'horizontal' or 'vertical', got {direction!r}")
        self.prob = prob
        self.direction = direction

    def transform(self, results: dict) -> dict:
        if self.rng.uniform(0.0, 1.0) < self.prob:
            flip_results(results, self.direction)
            results["flip"] = not results.get("flip", False)
            results["flip_direction"] = self.direction
        return results


@TRANSFORMS.register_module()
class Pad(BaseTransform):
    """Pad bottom / right to a fixed ``size`` (h, w) or to the next multiple of ``size_divisor``.

    The official semantic / panoptic / instance mappers pad to ``INPUT.SIZE_DIVISIBILITY`` (= crop
    size) with 128 / ignore; the model-side padding to a multiple of 32 is the data preprocessor's.
    """

    def __init__(
        self,
        size: Optional[Sequence[int]] = None,
        size_divisor: Optional[int] = None,
        pad_value: float = 128.0,
        seg_pad_value: int = 255,
    ) -> None:
        if (size is None) == (size_divisor is None):
            raise ValueError("Pad needs exactly one of size=(h, w) and size_divisor")
        self.size = tuple(size) if size is not None else None
        self.size_divisor = size_divisor
        self.pad_value = pad_value
        self.seg_pad_value = seg_pad_value

    def transform(self, results: dict) -> dict:
        h, w = results["img"].shape[:2]
        if self.size is not None:
            out = self.size
        else:
            d = int(self.size_divisor)
            out = (-(-h // d) * d, -(-w // d) * d)
        pad_results(results, out, self.pad_value, self.seg_pad_value)
        return results
