"""Shared helpers for the processor tests: the transformers reference classes and input builders."""
from __future__ import annotations

import importlib.util
import logging
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()
logging.getLogger("transformers").setLevel(logging.ERROR)

HAS_TORCHVISION = importlib.util.find_spec("torchvision") is not None


def hf_classes() -> dict[str, type]:
    """The ``transformers`` PIL / numpy processor classes, the reference of ours. They are what the public
    names ``{MaskFormer,Mask2Former}ImageProcessor`` resolve to without torchvision; with torchvision
    installed the public names give the torchvision backend, so the PIL classes are named directly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from transformers import Mask2FormerImageProcessorPil, MaskFormerImageProcessorPil
    return {"maskformer": MaskFormerImageProcessorPil, "mask2former": Mask2FormerImageProcessorPil}


def hf_output(class_logits: torch.Tensor, mask_logits: torch.Tensor):
    """A transformers model output object holding the two logits tensors."""
    from transformers.models.mask2former.modeling_mask2former import Mask2FormerForUniversalSegmentationOutput

    return Mask2FormerForUniversalSegmentationOutput(class_queries_logits=class_logits, masks_queries_logits=mask_logits)


def as_kind(image_hwc: np.ndarray, kind: str):
    """An ``[H, W, 3]`` uint8 array as the requested input kind."""
    if kind == "pil":
        return Image.fromarray(image_hwc)
    if kind == "np_hwc":
        return image_hwc
    if kind == "np_chw":
        return np.ascontiguousarray(image_hwc.transpose(2, 0, 1))
    if kind == "np_float_hwc":
        return image_hwc.astype(np.float32)
    if kind == "torch_chw":
        return torch.from_numpy(np.ascontiguousarray(image_hwc.transpose(2, 0, 1)))
    if kind == "torch_hwc":
        return torch.from_numpy(image_hwc.copy())
    raise ValueError(kind)


def map_as_kind(seg: np.ndarray, kind: str):
    """An ``[H, W]`` id map (values < 256) as the requested input kind."""
    if kind == "pil":
        return Image.fromarray(seg.astype(np.uint8))
    if kind == "np_uint8":
        return seg.astype(np.uint8)
    if kind == "np_int64":
        return seg.astype(np.int64)
    if kind == "torch":
        return torch.from_numpy(seg.astype(np.int64))
    raise ValueError(kind)


def decode_hf_runs(runs: list[int], shape: tuple[int, int]) -> np.ndarray:
    """Decode transformers' ``[start (1-based), length, ...]`` row-major runs into a bool mask."""
    flat = np.zeros(shape[0] * shape[1], dtype=bool)
    for start, length in zip(runs[0::2], runs[1::2]):
        flat[start - 1 : start - 1 + length] = True
    return flat.reshape(shape)
