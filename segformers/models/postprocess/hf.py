"""Post-processing as transformers' ``MaskFormerImageProcessor`` does it (a swappable alternative to
:class:`~segformers.models.postprocess.official.MaskFormerInference`).

The official MaskFormer / Mask2Former code upsamples the mask *logits* to the input size and then
combines them with the class scores; transformers' processor combines them at the decoder's 1/4
resolution and upsamples the result (semantic scores, binary instance masks, panoptic probabilities)
straight to ``target_sizes``. The maps differ along boundaries. The per-image steps below (over the
kernels of :mod:`.kernels`) are result-identical to transformers; :mod:`segformers.processing.postprocess`
is the batch API (target sizes, result dicts) over them, and :class:`HFImageProcessorInference` gives
``inference()`` on a converted Hugging Face checkpoint the same maps as ``transformers`` model + processor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ...registry import POSTPROCESSORS
from .kernels import (
    assign_segment_ids, bilinear_argmax, first_argmax, mask_scores, nearest_resize, nearest_source_index,
    pixel_winner, semantic_scores, topk_query_classes,
)

Size = Optional[tuple[int, int]]  # (height, width) to resize to; None keeps the logits' size


def semantic_batch(class_logits: Tensor, mask_logits: Tensor, sizes: Sequence[Size]) -> list[Tensor]:
    """``[B, Q, K+1]``, ``[B, Q, h, w]`` -> per image ``[K, H, W]`` class scores, bilinearly resized to
    its size (scores are combined first, then resized)."""
    scores = semantic_scores(class_logits, mask_logits)
    return [scores[i] if size is None else F.interpolate(scores[i][None], size=size, mode="bilinear",
                                                          align_corners=False)[0]
            for i, size in enumerate(sizes)]


def semantic_labels_batch(class_logits: Tensor, mask_logits: Tensor, sizes: Sequence[Size]) -> list[Tensor]:
    """``[B, Q, K+1]``, ``[B, Q, h, w]`` -> per image the ``[H, W]`` int64 argmax of :func:`semantic_batch`'s
    scores, equal to it, without resizing every class where few can win a pixel
    (:func:`~.kernels.bilinear_argmax`)."""
    scores = semantic_scores(class_logits, mask_logits)
    labels: list[Optional[Tensor]] = [None] * len(sizes)
    for size in dict.fromkeys(s for s in sizes if s is not None):  # the images of one size in one call
        index = [i for i, s in enumerate(sizes) if s == size]
        group = scores if len(index) == len(sizes) else scores.index_select(0, torch.tensor(index))
        fast = bilinear_argmax(group, size)
        for n, i in enumerate(index):
            labels[i] = None if fast is None else fast[n]
    for i, size in enumerate(sizes):
        if labels[i] is None:
            resized = scores[i] if size is None else F.interpolate(
                scores[i][None], size=size, mode="bilinear", align_corners=False)[0]
            labels[i] = first_argmax(resized)
    return labels


@dataclass
class InstancePairs:
    """transformers' instance selection of one image: the top-Q (query, class) pairs.

    ``binary [Q, h, w]`` float 0/1 masks at the logits' resolution (logit > 0), ``scores [Q]`` (class x
    mask score), ``labels [Q]``, ``keep [Q]`` (bool: score >= threshold and a mask non-empty once resized),
    ``query_ids [Q]``; ``rows [H]`` / ``cols [W]`` are the nearest-resize source indices (``None``: no
    resize)."""

    binary: Tensor
    scores: Tensor
    labels: Tensor
    keep: Tensor
    query_ids: Tensor
    rows: Optional[Tensor]
    cols: Optional[Tensor]

    def resized(self, masks: Tensor) -> Tensor:
        """``[N, h, w]`` -> ``[N, H, W]`` as ``F.interpolate(mode="nearest")`` to the target size."""
        return masks if self.rows is None else nearest_resize(masks, self.rows, self.cols)

    @property
    def kept(self) -> Tensor:
        """``[N]`` int64: the kept pairs' positions (``index_select`` instead of boolean indexing, which
        hands off to threads at any size)."""
        return self.keep.nonzero()[:, 0]



def instance_image(class_logits: Tensor, mask_logits: Tensor, size: Size, threshold: float) -> InstancePairs:
    """Top-Q (query, class) pairs of one image ``[Q, K+1]``, ``[Q, h, w]`` (see :class:`InstancePairs`); the
    masks stay at the logits' resolution (resizing is a copy of rows and columns)."""
    top_scores, top_labels, query_ids = topk_query_classes(class_logits, class_logits.shape[0])
    binary, quality = mask_scores(mask_logits.index_select(0, query_ids))
    final_scores = top_scores * quality
    rows = cols = None
    seen = binary
    if size is not None:
        (h, w), device = binary.shape[-2:], binary.device
        rows, cols = nearest_source_index(h, size[0], device), nearest_source_index(w, size[1], device)
        hit_rows, hit_cols = rows.unique(), cols.unique()  # the input pixels the resize copies
        if len(hit_rows) < h or len(hit_cols) < w:
            seen = nearest_resize(binary, hit_rows, hit_cols)
    keep = (seen.flatten(1).amax(dim=1) > 0) & (final_scores.double() >= threshold)
    return InstancePairs(binary, final_scores, top_labels, keep, query_ids, rows, cols)


def panoptic_batch(
    class_logits: Tensor, mask_logits: Tensor, sizes: Sequence[Size], *, threshold: float, mask_threshold: float,
    overlap_threshold: float, fuse: set[int],
) -> list[Optional[tuple[Tensor, list[dict]]]]:
    """Per image of ``[B, Q, K+1]``, ``[B, Q, h, w]``: ``([H, W] int32 segment ids, 0 = dropped;
    segments with id, label_id, was_fused, score)``, or ``None`` when no query is kept.

    Kept: queries whose best class is not no-object and scores above ``threshold``. Each pixel goes to
    the kept query of highest ``score * sigmoid(mask)``; a query's region stays if it covers more than
    ``overlap_threshold`` of its ``>= mask_threshold`` area. Labels in ``fuse`` share one segment."""
    num_labels = class_logits.shape[-1] - 1
    mask_probs = mask_logits.sigmoid()
    pred_scores, pred_labels = class_logits.softmax(dim=-1).max(dim=-1)
    results: list[Optional[tuple[Tensor, list[dict]]]] = []
    for i, size in enumerate(sizes):
        keep = pred_labels[i].ne(num_labels) & (pred_scores[i] > threshold)
        if not bool(keep.any()):
            results.append(None)
            continue
        kept = keep.nonzero()[:, 0]
        probs, scores, labels = (t.index_select(0, kept) for t in (mask_probs[i], pred_scores[i], pred_labels[i]))
        if size is not None:
            probs = F.interpolate(probs[None], size=size, mode="bilinear", align_corners=False)[0]
        probs = probs.mul_(scores.view(-1, 1, 1))  # `probs` is a fresh tensor here (indexed / resized)
        owner, area, own_area, ratio = pixel_winner(probs, probs >= mask_threshold)
        valid = (area > 0) & (own_area > 0) & (ratio.double() > overlap_threshold)
        label_list, score_list = labels.tolist(), scores.tolist()
        ids, first = assign_segment_ids(valid.tolist(), label_list, fuse)
        segments = [{"id": n + 1, "label_id": label_list[q], "was_fused": label_list[q] in fuse,
                     "score": round(score_list[q], 6)} for n, q in enumerate(first)]
        lut = torch.tensor(ids, dtype=torch.int32, device=probs.device)
        results.append((lut.index_select(0, owner.flatten()).view(owner.shape), segments))
    return results


def crop_low_res(mask_pred: Tensor, img_shape: Sequence[int], pad_shape: Sequence[int]) -> Tensor:
    """Drop the part of low-resolution masks ``[Q, h, w]`` that only covers the batch padding:
    keep ``ceil(h * img_h / pad_h)`` rows and likewise columns (exact when the sizes divide)."""
    h, w = mask_pred.shape[-2:]
    rows = min(h, math.ceil(h * int(img_shape[0]) / int(pad_shape[0])))
    cols = min(w, math.ceil(w * int(img_shape[1]) / int(pad_shape[1])))
    return mask_pred[..., :rows, :cols]


@POSTPROCESSORS.register_module()
class HFImageProcessorInference:
    """Semantic / instance / panoptic results exactly as transformers' processor post-processing with
    ``target_sizes=[ori_shape]``, in the result format of ``MaskFormerInference``.

    ``MaskFormer.predict`` hands every postprocessor the decoder's low-resolution mask logits together
    with ``metainfo["batch_input_shape"]`` (the padded input size); this one crops the padding from the
    low-resolution logits before resizing them to the original size, as transformers does.

    Args:
        semantic_on / instance_on / panoptic_on: which results to produce.
        threshold: instance score threshold and panoptic query threshold (transformers' ``threshold``).
        mask_threshold: panoptic ``mask_threshold``.
        overlap_mask_area_threshold: panoptic overlap threshold.
        label_ids_to_fuse: panoptic classes whose segments are merged per class; ``None`` uses the stuff
            classes (all classes not in the thing ids) when thing ids are known, else fuses nothing.
        thing_ids: contiguous ids of thing classes (``None``: the model's ``set_dataset_meta`` fills it
            from the dataset's ``is_thing``). Only used for ``label_ids_to_fuse`` and ``isthing``.

    Results: ``sem_seg`` ``[K, H, W]`` class scores; ``panoptic_seg`` ``([H, W] int32 ids, 0 = void,
    segments_info with id, isthing, category_id, score)``; ``instances`` with ``scores``, ``labels``,
    ``masks [N, H, W]`` bool, ``boxes`` (zeros) and ``query_ids``.
    """

    def __init__(
        self,
        *,
        semantic_on: bool = True,
        instance_on: bool = False,
        panoptic_on: bool = False,
        threshold: float = 0.5,
        mask_threshold: float = 0.5,
        overlap_mask_area_threshold: float = 0.8,
        label_ids_to_fuse: Optional[Sequence[int]] = None,
        thing_ids: Optional[Sequence[int]] = None,
    ) -> None:
        if not (semantic_on or instance_on or panoptic_on):
            raise ValueError(
                "HFImageProcessorInference: enable at least one of semantic_on, instance_on, panoptic_on."
            )
        self.semantic_on, self.instance_on, self.panoptic_on = semantic_on, instance_on, panoptic_on
        self.threshold = threshold
        self.mask_threshold = mask_threshold
        self.overlap_mask_area_threshold = overlap_mask_area_threshold
        self.label_ids_to_fuse = None if label_ids_to_fuse is None else [int(i) for i in label_ids_to_fuse]
        self.thing_ids = None if thing_ids is None else [int(i) for i in thing_ids]

    def _fuse_ids(self, num_classes: int, thing_ids: Optional[list[int]]) -> Optional[list[int]]:
        if self.label_ids_to_fuse is not None:
            return self.label_ids_to_fuse
        if thing_ids is None:
            return None
        things = set(thing_ids)
        return [c for c in range(num_classes) if c not in things]

    def __call__(self, mask_cls: Tensor, mask_pred: Tensor, metainfo: dict) -> dict:
        """``mask_cls [Q, K+1]``, ``mask_pred [Q, h, w]`` low-resolution logits of the padded input."""
        pad_shape = metainfo.get("batch_input_shape", metainfo.get("pad_shape"))
        img_shape = metainfo.get("img_shape", pad_shape)
        if pad_shape is not None and img_shape is not None:
            mask_pred = crop_low_res(mask_pred, img_shape, pad_shape)
        ori_shape = metainfo.get("ori_shape", img_shape)
        size = None if ori_shape is None else (int(ori_shape[0]), int(ori_shape[1]))
        mask_cls, mask_pred = mask_cls.float(), mask_pred.float()
        result: dict = {}
        if self.semantic_on:
            result["sem_seg"] = semantic_batch(mask_cls[None], mask_pred[None], [size])[0]
        if self.panoptic_on:
            result["panoptic_seg"] = self._panoptic(mask_cls, mask_pred, size)
        if self.instance_on:
            result["instances"] = self._instances(mask_cls, mask_pred, size)
        return result

    def _panoptic(self, mask_cls: Tensor, mask_pred: Tensor, size: Size) -> tuple[Tensor, list[dict]]:
        fuse = self._fuse_ids(mask_cls.shape[-1] - 1, self.thing_ids)
        fused = set(fuse or ())
        res = panoptic_batch(
            mask_cls[None], mask_pred[None], [size], threshold=self.threshold, mask_threshold=self.mask_threshold,
            overlap_threshold=self.overlap_mask_area_threshold, fuse=fused,
        )[0]
        if res is None or not res[1]:  # nothing kept (transformers: an all -1 map) is void (0) here
            shape = size if size is not None else tuple(mask_pred.shape[-2:])
            return torch.zeros(shape, dtype=torch.int32, device=mask_pred.device), []
        things = self.thing_ids
        segments = [
            {
                "id": int(s["id"]),
                "isthing": (s["label_id"] in things) if things is not None else s["label_id"] not in fused,
                "category_id": int(s["label_id"]),
                "score": float(s["score"]),
            }
            for s in res[1]
        ]
        return res[0], segments

    def _instances(self, mask_cls: Tensor, mask_pred: Tensor, size: Size) -> dict[str, Tensor]:
        """transformers' instance selection (``instance_segmentation`` with binary maps), kept queries included."""
        pairs = instance_image(mask_cls, mask_pred, size, self.threshold)
        keep = pairs.kept  # computed once: each access is a nonzero
        return {
            "scores": torch.tensor([round(v, 6) for v in pairs.scores[keep].tolist()], dtype=torch.float32,
                                   device=mask_cls.device),  # rounded like the processor's segments_info
            "labels": pairs.labels[keep].to(torch.int64),
            "masks": pairs.resized(pairs.binary.index_select(0, keep)) > 0,
            "boxes": torch.zeros((len(keep), 4), device=mask_cls.device),
            "query_ids": pairs.query_ids[keep],
        }
