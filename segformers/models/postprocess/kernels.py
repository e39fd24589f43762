"""The post-processing kernels, one copy each, shared by the official and the transformers-compatible
inference (:mod:`.official`, :mod:`.hf`) and the ``processing`` batch API.

Each kernel does the arithmetic both codes agree on; where they differ (which mask threshold, how the
area ratio is compared, what a segment's record holds) the caller decides.
"""
from __future__ import annotations

import torch
from torch import Tensor


def semantic_scores(class_logits: Tensor, mask_logits: Tensor) -> Tensor:
    """``[..., Q, K+1]`` class logits, ``[..., Q, H, W]`` mask logits -> ``[..., K, H, W]`` class scores:
    ``sum_q softmax(cls)[q, k] * sigmoid(mask)[q]``, the no-object column dropped (no renormalisation)."""
    class_probs = class_logits.softmax(dim=-1)[..., :-1]
    return torch.einsum("...qc,...qhw->...chw", class_probs, mask_logits.sigmoid())


def topk_query_classes(class_logits: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """The ``k`` best (query, class) pairs of ``[Q, K+1]`` logits by class probability (no-object dropped;
    pairs in query-major order before ``topk(sorted=False)``).

    Returns ``scores [k]``, ``labels [k]`` (int64) and the query of each pair ``query_ids [k]``."""
    num_queries, num_classes = class_logits.shape[0], class_logits.shape[-1] - 1
    scores = class_logits.softmax(dim=-1)[:, :-1]
    labels = torch.arange(num_classes, device=class_logits.device).repeat(num_queries)
    top_scores, top_idx = scores.flatten().topk(k, sorted=False)
    return top_scores, labels[top_idx], torch.div(top_idx, num_classes, rounding_mode="floor")


def mask_scores(mask_logits: Tensor) -> tuple[Tensor, Tensor]:
    """``[N, H, W]`` mask logits -> binary masks ``[N, H, W]`` (float, logit > 0) and each mask's score
    ``[N]``: the mean sigmoid probability inside its binary mask."""
    binary = (mask_logits > 0).float()
    flat = binary.flatten(1)
    return binary, (mask_logits.sigmoid().flatten(1) * flat).sum(1) / (flat.sum(1) + 1e-6)


def pixel_winner(weighted: Tensor, own: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Give each pixel to the query of highest ``weighted [N, H, W]`` (score x mask probability).

    ``own [N, H, W]`` (bool) is each query's own mask. Returns ``owner [H, W]`` (int64 index into the N
    queries), ``area [N]`` (pixels each query wins), ``own_area [N]`` (pixels of its own mask) and
    ``ratio [N]`` (float32 ``area / own_area``, ``own_area`` clamped at 1)."""
    owner = weighted.argmax(dim=0)
    area = torch.bincount(owner.flatten(), minlength=weighted.shape[0])
    own_area = own.flatten(1).view(torch.uint8).sum(dim=1, dtype=torch.int32).long()
    return owner, area, own_area, area / own_area.clamp(min=1)


def assign_segment_ids(valid: list[bool], labels: list[int], fuse: set[int]) -> tuple[list[int], list[int]]:
    """Segment ids 1, 2, ... for the valid queries in query order; every query of a label in ``fuse``
    shares the id of that label's first segment.

    Returns the id of each query (0 = no segment) and, per segment, the query that opened it."""
    ids, first, fused = [0] * len(valid), [], {}
    for q, (ok, label) in enumerate(zip(valid, labels)):
        if not ok:
            continue
        if label in fuse and label in fused:
            ids[q] = fused[label]
            continue
        first.append(q)
        ids[q] = len(first)
        if label in fuse:
            fused[label] = ids[q]
    return ids, first


def matrix_nms_decay_sorted(inter: Tensor, area: Tensor, labels: Tensor, order: Tensor, sigma: float) -> Tensor:
    """The Gaussian matrix NMS factor ``[N]`` (see :func:`~.official.matrix_nms_decay`) from the pixel
    overlaps ``inter [N, N]`` and areas ``area [N]`` (float) of the masks taken in ``order`` (scores
    descending); the factors come back in the original order."""
    iou = inter / (area[:, None] + area[None] - inter).clamp(min=1)
    same_class = labels[order][:, None] == labels[order][None]
    iou = (iou * same_class).triu(diagonal=1)  # [i, j]: i scored above j
    comp = iou.max(0).values
    decay = torch.exp(-sigma * (iou**2 - comp[:, None] ** 2)).min(0).values
    return torch.empty_like(decay).scatter_(0, order, decay)
