"""The Hugging Face batch API of post-processing: target sizes, result dicts, COCO RLE.

The per-image work (result-identical to transformers) is :mod:`segformers.models.postprocess.hf` over the
kernels of :mod:`segformers.models.postprocess.kernels`. Every function works on the logits' device at
the logits' own resolution (no fixed-size detour); the only Python loops run over images and over kept
queries.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

from ..models.postprocess.hf import (
    instance_image, panoptic_batch, semantic_batch, semantic_labels_batch,
)
from ..models.postprocess.kernels import first_argmax


@dataclass
class SemanticSegmentationResult:
    """One image's semantic result: ``segmentation`` ``[H, W]`` int64 class ids and
    ``segmentation_scores`` ``[K, H, W]`` per-class scores."""

    segmentation: Tensor
    segmentation_scores: Tensor


def query_logits(outputs: Any) -> tuple[Tensor, Tensor]:
    """``(class_queries_logits [B, Q, K+1], masks_queries_logits [B, Q, h, w])`` from a
    :class:`~segformers.structures.SegmentationOutput`, a transformers output or a dict."""
    if hasattr(outputs, "class_queries_logits") and hasattr(outputs, "masks_queries_logits"):
        cls, masks = outputs.class_queries_logits, outputs.masks_queries_logits
    elif isinstance(outputs, dict) and {"class_queries_logits", "masks_queries_logits"} <= outputs.keys():
        cls, masks = outputs["class_queries_logits"], outputs["masks_queries_logits"]
    else:
        raise TypeError(
            "outputs must have `class_queries_logits` and `masks_queries_logits` (a segformers "
            f"SegmentationOutput or a transformers model output), got {type(outputs).__name__}"
        )
    if cls.ndim != 3 or masks.ndim != 4 or cls.shape[:2] != masks.shape[:2]:
        raise ValueError(
            "expected class_queries_logits [B, Q, K+1] and masks_queries_logits [B, Q, H, W] with the same "
            f"B and Q, got {tuple(cls.shape)} and {tuple(masks.shape)}"
        )
    if cls.shape[-1] < 2:
        raise ValueError(
            f"class_queries_logits needs at least one class plus no-object, got {tuple(cls.shape)}"
        )
    return cls.detach(), masks.detach()


def check_target_sizes(
    target_sizes: Optional[Sequence[Any]], batch_size: int
) -> list[Optional[tuple[int, int]]]:
    """One ``(height, width)`` (or ``None`` = keep the logits' size) per image."""
    if target_sizes is None:
        return [None] * batch_size
    if len(target_sizes) != batch_size:
        raise ValueError(
            f"got {len(target_sizes)} target_sizes for a batch of {batch_size} predictions; "
            "pass one (height, width) per image"
        )
    sizes = []
    for size in target_sizes:
        values = size.tolist() if isinstance(size, Tensor) else list(size)
        if len(values) != 2 or any(int(v) != v or v <= 0 for v in values):
            raise ValueError(f"each target size must be (height, width) with positive integers, got {size!r}")
        sizes.append((int(values[0]), int(values[1])))
    return sizes


def semantic_segmentation(
    outputs: Any, target_sizes: Optional[Sequence[Any]] = None, return_segmentation_scores: bool = False
) -> list:
    """Per image ``argmax_k sum_q softmax(cls)[q, k] * sigmoid(mask)[q]`` (no-object dropped),
    optionally bilinearly resized to ``target_sizes`` first."""
    class_logits, mask_logits = query_logits(outputs)
    sizes = check_target_sizes(target_sizes, class_logits.shape[0])
    if not return_segmentation_scores:
        return semantic_labels_batch(class_logits, mask_logits, sizes)
    return [SemanticSegmentationResult(first_argmax(scores), scores)
            for scores in semantic_batch(class_logits, mask_logits, sizes)]


def masks_to_coco_rle(masks: Tensor) -> list[dict]:
    """``[N, H, W]`` binary masks -> N COCO RLE dicts ``{"size": [H, W], "counts": str}``
    (pycocotools' compressed format, JSON-ready)."""
    from pycocotools import mask as mask_utils

    array = masks.detach().to("cpu", torch.uint8).numpy()
    rles = mask_utils.encode(np.asfortranarray(array.transpose(1, 2, 0)))
    for rle in rles:
        rle["counts"] = rle["counts"].decode("ascii")
    return rles


def _paint_last_wins(masks: Tensor) -> Tensor:
    """``[N, H, W]`` bool -> ``[H, W]`` float32 holding, per pixel, the index of the last mask that
    covers it, or -1."""
    if masks.shape[0] == 0:
        return torch.full(masks.shape[1:], -1.0, device=masks.device)
    dtype = torch.int16 if masks.shape[0] < 2**15 - 1 else torch.int64
    weights = torch.arange(1, masks.shape[0] + 1, dtype=dtype, device=masks.device).view(-1, 1, 1)
    return (masks.to(dtype) * weights).amax(dim=0).to(torch.float32) - 1


def instance_segmentation(
    outputs: Any,
    threshold: float = 0.5,
    target_sizes: Optional[Sequence[Any]] = None,
    return_coco_annotation: bool = False,
    return_binary_maps: bool = False,
) -> list[dict]:
    """Score every (query, class) pair, keep the top ``Q`` pairs, binarize their masks at logit 0,
    rescore by the mean mask probability inside the mask and keep pairs with score >= ``threshold``
    and a non-empty mask. Segment ids are 0, 1, ... in kept order; -1 marks background."""
    if return_coco_annotation and return_binary_maps:
        raise ValueError("return_coco_annotation and return_binary_maps cannot both be True; pick one")
    class_logits, mask_logits = query_logits(outputs)
    sizes = check_target_sizes(target_sizes, class_logits.shape[0])
    results = []
    for i, size in enumerate(sizes):
        pairs = instance_image(class_logits[i], mask_logits[i], size, threshold)
        index = pairs.kept
        kept = pairs.binary.index_select(0, index)  # [N, h, w]: resized only for the output that needs it
        labels, scores = pairs.labels.index_select(0, index).tolist(), pairs.scores.index_select(0, index).tolist()
        segments = [{"id": j, "label_id": label, "was_fused": False, "score": round(score, 6)}
                    for j, (label, score) in enumerate(zip(labels, scores))]
        if return_coco_annotation:
            segmentation: Any = masks_to_coco_rle(pairs.resized(kept) > 0)
        elif return_binary_maps and len(segments) > 0:
            segmentation = pairs.resized(kept)
        else:  # painting commutes with the nearest resize (both are per pixel)
            segmentation = pairs.resized(_paint_last_wins(kept > 0)[None])[0]
        results.append({"segmentation": segmentation, "segments_info": segments})
    return results


def panoptic_segmentation(
    outputs: Any,
    threshold: float = 0.5,
    mask_threshold: float = 0.5,
    overlap_mask_area_threshold: float = 0.8,
    label_ids_to_fuse: Optional[Iterable[int]] = None,
    target_sizes: Optional[Sequence[Any]] = None,
) -> list[dict]:
    """Keep queries whose best class is not no-object and scores above ``threshold``; give each pixel
    to the query with the highest ``score * sigmoid(mask)``; keep a query's region if it covers more
    than ``overlap_mask_area_threshold`` of its ``>= mask_threshold`` area. Ids start at 1; 0 marks
    pixels of dropped regions; an image with no kept query gets an all -1 float map."""
    class_logits, mask_logits = query_logits(outputs)
    sizes = check_target_sizes(target_sizes, class_logits.shape[0])
    fuse = set() if label_ids_to_fuse is None else {int(x) for x in label_ids_to_fuse}
    images = panoptic_batch(class_logits, mask_logits, sizes, threshold=threshold, mask_threshold=mask_threshold,
                            overlap_threshold=overlap_mask_area_threshold, fuse=fuse)
    results = []
    for size, image in zip(sizes, images):
        if image is None:
            shape = size if size is not None else tuple(mask_logits.shape[-2:])
            results.append({"segmentation": torch.full(shape, -1.0, device=mask_logits.device), "segments_info": []})
        else:
            results.append({"segmentation": image[0], "segments_info": image[1]})
    return results
