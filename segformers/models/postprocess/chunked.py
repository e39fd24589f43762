"""The official semantic / panoptic / instance inference of one large image, computed band by band.

:class:`~.official.MaskFormerInference` switches to this when the full-resolution tensors would exceed
its ``chunk_elements``: the mask logits stay at the model's resolution and :class:`~.banded.BandedResize`
gives them at the original size a band of rows at a time (bit-equal to the one-piece resize); each
result keeps only what its output needs (a label map, an id map, the kept instances' boolean masks).

Same results as the one-piece code: the resized logits, the instance masks and every integer count are
bit-equal; the per-pixel decisions (argmax, thresholds) are taken on the same values except where torch's
elementwise ``sigmoid`` rounds differently in the scalar tail of a vectorized loop (the tail's position
depends on the tensor's length and thread split, in the one-piece code too); the instance mask scores are
sums over all pixels, accumulated here band by band in float64 (the one-piece code sums in float32), so
they agree to float32 rounding, not bit for bit.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .banded import BandedResize, band_ranges
from .kernels import assign_segment_ids, first_argmax, matrix_nms_decay_sorted, topk_query_classes


class SemanticBands:
    """``[H, W]`` int64 class map: per band, the argmax over classes of :func:`~.kernels.semantic_scores`
    (or of the band itself when ``class_logits`` is ``None``: the bands hold class scores)."""

    def __init__(self, out_hw: tuple[int, int], class_logits: Optional[Tensor]) -> None:
        self.labels = torch.empty(out_hw, dtype=torch.int64)
        self.needs_probs = class_logits is not None
        self.class_probs = None if class_logits is None else class_logits.softmax(dim=-1)[..., :-1]

    def update(self, band: Tensor, probs: Optional[Tensor], r0: int, r1: int) -> None:
        scores = band if self.class_probs is None else torch.einsum("qc,qhw->chw", self.class_probs, probs)
        self.labels[r0:r1] = first_argmax(scores)

    def finish(self) -> Tensor:
        return self.labels


class PanopticBands:
    """:func:`~.official.panoptic_inference` over bands: per-pixel winners first, segments at the end."""

    def __init__(self, out_hw: tuple[int, int], class_logits: Tensor, *, thing_ids: Sequence[int],
                 object_mask_threshold: float, overlap_threshold: float, intersect_with_mask: bool) -> None:
        self.num_classes = class_logits.shape[-1] - 1
        scores, labels = F.softmax(class_logits, dim=-1).max(-1)
        self.keep = labels.ne(self.num_classes) & (scores > object_mask_threshold)
        self.scores, self.classes = scores[self.keep], labels[self.keep]
        n = len(self.classes)
        self.owner = torch.empty(out_hw, dtype=torch.int64 if n > 2**15 else torch.int16)
        self.owner_own = torch.empty(out_hw, dtype=torch.bool)
        self.area, self.own_area, self.inside = (torch.zeros(n, dtype=torch.int64) for _ in range(3))
        self.thing_ids, self.overlap, self.intersect = list(thing_ids), overlap_threshold, intersect_with_mask
        self.needs_probs = True

    def update(self, band: Tensor, probs: Tensor, r0: int, r1: int) -> None:
        n = len(self.classes)
        if n == 0:
            return
        probs = probs[self.keep]
        own = probs >= 0.5
        owner = first_argmax(self.scores.view(-1, 1, 1) * probs)
        owner_own = own.gather(0, owner[None]).squeeze(0)
        self.area += torch.bincount(owner.flatten(), minlength=n)
        self.own_area += own.flatten(1).view(torch.uint8).sum(dim=1, dtype=torch.int32)
        self.inside += torch.bincount(owner[owner_own], minlength=n)
        self.owner[r0:r1], self.owner_own[r0:r1] = owner, owner_own

    def finish(self) -> tuple[Tensor, list[dict]]:
        n = len(self.classes)
        if n == 0:
            return torch.zeros(self.owner.shape, dtype=torch.int32), []
        ratio = self.area / self.own_area.clamp(min=1)
        valid = (self.area > 0) & (self.own_area > 0) & (ratio >= self.overlap)
        if self.intersect:
            valid &= self.inside > 0
        classes, things = self.classes.tolist(), set(self.thing_ids)
        lut, first = assign_segment_ids(valid.tolist(), classes, set(range(self.num_classes)) - things)
        segments = [{"id": i + 1, "isthing": classes[q] in things, "category_id": int(classes[q])}
                    for i, q in enumerate(first)]
        lut_t = torch.tensor(lut, dtype=torch.int32)
        seg = torch.empty(self.owner.shape, dtype=torch.int32)
        for r0, r1 in band_ranges(seg.shape[0], seg.shape[1], 2**22):
            rows = lut_t[self.owner[r0:r1].long()]
            seg[r0:r1] = torch.where(self.owner_own[r0:r1], rows, torch.zeros_like(rows)) if self.intersect else rows
        return seg, segments


class InstanceBands:
    """:func:`~.official.instance_inference` over bands: boolean masks written band by band; per query (a
    query's mask serves each of its classes) the mask area, the probability inside it and, for matrix
    NMS, the pairwise overlaps accumulated."""

    def __init__(self, out_hw: tuple[int, int], class_logits: Tensor, *, topk: int,
                 thing_ids: Optional[Sequence[int]], matrix_nms_sigma: Optional[float], by_query: bool = False) -> None:
        num_queries, num_classes = class_logits.shape[0], class_logits.shape[-1] - 1
        if topk > num_queries * num_classes:
            raise ValueError(f"instance inference asks for top-{topk} of {num_queries} queries x {num_classes} "
                             "classes; lower postprocessor.topk_per_image or use more queries.")
        scores, labels, query_ids = topk_query_classes(class_logits, topk)
        if thing_ids is not None:
            is_thing = torch.isin(labels, torch.as_tensor(list(thing_ids), device=labels.device))
            scores, labels, query_ids = scores[is_thing], labels[is_thing], query_ids[is_thing]
        self.top_scores, self.labels, self.query_ids, self.sigma = scores, labels, query_ids, matrix_nms_sigma
        # by_query: one mask per distinct query (see MaskFormerInference's instance_masks), else one per instance
        self.unique, self.index = torch.unique(query_ids, return_inverse=True) if by_query else (query_ids, None)
        self.masks = torch.empty((len(self.unique), *out_hw), dtype=torch.bool)
        self.prob_sum = torch.zeros(num_queries, dtype=torch.float64)
        self.area = torch.zeros(num_queries, dtype=torch.int64)
        self.inter = torch.zeros((num_queries,) * 2, dtype=torch.float64) if matrix_nms_sigma is not None else None
        self.needs_probs = True

    def update(self, band: Tensor, probs: Tensor, r0: int, r1: int) -> None:
        binary = band > 0  # [Q, rows, W]
        self.masks[:, r0:r1] = binary[self.unique]
        self.prob_sum += (probs * binary).sum(dim=(1, 2)).double()
        self.area += binary.flatten(1).view(torch.uint8).sum(dim=1, dtype=torch.int32)
        if self.inter is not None:
            flat = binary.flatten(1).float()
            self.inter += (flat @ flat.T).double()  # integer counts: exact while a band has < 2**24 pixels

    def finish(self) -> dict[str, Tensor]:
        q = self.query_ids
        area = self.area[q].float()
        scores = self.top_scores * (self.prob_sum[q].float() / (area + 1e-6))
        if self.inter is not None and len(scores):
            order = scores.argsort(descending=True)
            inter = self.inter.float()[q][:, q][order][:, order]
            scores = scores * matrix_nms_decay_sorted(inter, area[order], self.labels, order, self.sigma)
        masks = {"masks": self.masks} if self.index is None else {"query_masks": self.masks, "mask_index": self.index}
        return {"scores": scores, "labels": self.labels, **masks, "boxes": torch.zeros((len(q), 4)), "query_ids": q}


def run_bands(resize: BandedResize, parts: dict, max_elements: int, channels: int) -> dict:
    """Feed every band of ``resize``'s output (and its sigmoid, computed once) to each part's
    ``update(band, probs, r0, r1)``, then return ``{key: part.finish()}``. A band holds at most
    ``max_elements`` values of ``channels`` maps (at least one row)."""
    needs_probs = any(part.needs_probs for part in parts.values())
    for r0, r1 in band_ranges(resize.out_hw[0], channels * resize.out_hw[1], max_elements):
        band = resize.rows(r0, r1)
        probs = band.sigmoid() if needs_probs else None
        for part in parts.values():
            part.update(band, probs, r0, r1)
    return {key: part.finish() for key, part in parts.items()}
