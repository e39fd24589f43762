"""The post-processing kernels, one copy each, shared by the official and the transformers-compatible
inference (:mod:`.official`, :mod:`.hf`) and the ``processing`` batch API.

Each kernel does the arithmetic both codes agree on; where they differ (which mask threshold, how the
area ratio is compared, what a segment's record holds) the caller decides. :func:`bilinear_argmax` gives
the class map of resized scores without the resized ``[K, H, W]`` tensor, :func:`nearest_source_index` /
:func:`nearest_resize` the nearest resize as a copy of rows and columns (both bit-equal to ``F.interpolate``).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
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


def first_argmax(x: Tensor) -> Tensor:
    """``x.argmax(0)`` (the first index of the largest value, NaN the largest) through ``x.max(0)``, which
    returns the same indices and is ~5x faster on CPU for a reduction over the leading dim."""
    return x.max(0).indices


def pixel_winner(weighted: Tensor, own: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Give each pixel to the query of highest ``weighted [N, H, W]`` (score x mask probability).

    ``own [N, H, W]`` (bool) is each query's own mask. Returns ``owner [H, W]`` (int64 index into the N
    queries), ``area [N]`` (pixels each query wins), ``own_area [N]`` (pixels of its own mask) and
    ``ratio [N]`` (float32 ``area / own_area``, ``own_area`` clamped at 1)."""
    owner = first_argmax(weighted)
    flat = owner.flatten()  # pixels won per query; on CPU by scatter_add_ (bincount hands off to threads at any size)
    if flat.device.type == "cpu":
        area = torch.zeros(weighted.shape[0], dtype=torch.int64).scatter_add_(0, flat, torch.ones_like(flat))
    else:
        area = torch.bincount(flat, minlength=weighted.shape[0])
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


def nearest_source_index(in_size: int, out_size: int, device: torch.device) -> Tensor:
    """``[out_size]`` int64: the input position that ``F.interpolate(mode="nearest")`` copies to each output
    position along one axis (asked of torch itself by resizing an ``arange``, so its rounding is torch's)."""
    src = torch.arange(in_size, dtype=torch.float32, device=device).view(1, 1, 1, in_size)
    return F.interpolate(src, size=(1, out_size), mode="nearest").view(-1).long()


def nearest_resize(x: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """``[N, h, w]`` -> ``[N, H, W]``: ``x`` resized nearest with the source indices ``rows [H]``, ``cols [W]``
    of :func:`nearest_source_index` (bit-equal to ``F.interpolate``: nearest resizing copies values)."""
    return x.index_select(1, rows).index_select(2, cols)


# pixels are blended in groups of at most 2, 3, 4, ... candidates (each with that many slots)
TIERS = (2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
# values blended per step: below torch's parallel grain (32768), so the many small steps take no thread
# hand-off each (which costs more than they do, above all on a busy machine)
CHUNK = 2**15
# values per group of images whose candidates are found together: temporaries below glibc's largest
# mmap threshold (32 MB) are reused from the heap, larger ones are mapped (and page-faulted) afresh
GROUP = 5 * 2**20


def _block_candidates(y: Tensor) -> Optional[tuple[Tensor, Tensor]]:
    """The channels of ``y [B, C, h, w]`` that may be largest at a pixel blended from a 2x2 block.

    A channel is kept where its largest corner reaches the block's best smallest corner less a margin
    far above float rounding. Returns ``count [B * (h-1) * (w-1)]`` (>= 1) and ``slots [M, B * (h-1) *
    (w-1)]``: per block its candidates ascending, missing slots repeating the first; ``None`` if ``y``
    holds NaN or inf."""
    high, low = torch.maximum(y[:, :, :-1], y[:, :, 1:]), torch.minimum(y[:, :, :-1], y[:, :, 1:])
    high = torch.maximum(high[..., :-1], high[..., 1:])  # [B, C, h-1, w-1]
    low = torch.minimum(low[..., :-1], low[..., 1:]).amax(dim=1, keepdim=True)  # [B, 1, h-1, w-1]
    if not bool(low.isfinite().all()):
        return None
    near = high >= low - low.abs() * 1e-5 - 1e-30  # [B, C, h-1, w-1]
    image, row, col, channel = near.permute(0, 2, 3, 1).nonzero().unbind(1)  # by block, then channel
    block = (image * low.shape[2] + row) * low.shape[3] + col
    count = torch.unique_consecutive(block, return_counts=True)[1]  # every block has a candidate
    start = count.cumsum(0) - count
    slots = channel.index_select(0, start).expand(int(count.amax()), -1).contiguous()
    rank = torch.arange(len(block)) - start.index_select(0, block)
    slots.view(-1).scatter_(0, rank * len(count) + block, channel)
    return count, slots


def _batch_candidates(x: Tensor, weights: Optional[Tensor]) -> Optional[tuple[Tensor, Tensor]]:
    """:func:`_block_candidates` of ``x [B, C, h, w]`` (times ``weights [B, C]``) image by image (whose
    temporaries stay small enough to be reused, not mapped afresh), the blocks numbered across the batch."""
    parts, step = [], max(1, GROUP // x[0].numel())
    for i in range(0, x.shape[0], step):
        y = x[i:i + step] if weights is None else x[i:i + step] * weights[i:i + step, :, None, None]
        found = _block_candidates(y)
        if found is None:
            return None
        parts.append(found)
    most = max(slots.shape[0] for _, slots in parts)
    slots = [torch.cat([s, s[:1].expand(most - s.shape[0], -1)]) if s.shape[0] < most else s for _, s in parts]
    return torch.cat([count for count, _ in parts]), torch.cat(slots, dim=1)


def bilinear_argmax(x: Tensor, size: tuple[int, int], weights: Optional[Tensor] = None) -> Optional[Tensor]:
    """``first_argmax_c (F.interpolate(x, size, bilinear) * weights[:, c])`` ``[B, H, W]`` int64 for
    ``x [B, C, h, w]`` (float32, CPU, finite, >= 0) and optional ``weights [B, C]`` (>= 0), without the
    ``[B, C, H, W]`` tensor.

    Each output pixel blends one 2x2 block of input neighbours and only a few channels can win it there
    (:func:`_block_candidates`); a pixel with one candidate takes it, the others resize their candidates
    only, in torch's own arithmetic (:func:`~.banded.kernel_rule`), so the result is bit-equal to the
    one-piece code. Returns ``None`` where that does not apply (another device or kernel, NaN, so many
    candidates that it would not pay); the caller then resizes in one piece."""
    from .banded import kernel_rule, source_index, uses_generic_kernel

    (batch, channels, h, w), size = x.shape, (int(size[0]), int(size[1]))
    rule = kernel_rule()
    if (x.device.type != "cpu" or x.dtype != torch.float32 or rule is None or h < 2 or w < 2
            or size == (h, w) or not uses_generic_kernel(channels, size)):
        return None
    found = _batch_candidates(x, weights)
    if found is None:  # NaN or inf: resized in one piece
        return None
    count, slots = found
    fused = rule[0] == "fused"
    i0, i1, wh0, wh1 = source_index(h, size[0], 0, size[0], fused)
    j0, j1, ww0, ww1 = source_index(w, size[1], 0, size[1], fused)
    a, b = i0.clamp(max=h - 2), j0.clamp(max=w - 2)  # the block of each output row / column
    block = ((torch.arange(batch).view(-1, 1, 1) * (h - 1) + a.view(-1, 1)) * (w - 1) + b).flatten()
    count = count.index_select(0, block)  # [B * H * W]
    if int(count.sum()) > max(4.0, channels / 8) * count.numel():  # would not pay: resize in one piece
        return None
    labels = slots[0].index_select(0, block)
    geometry = (size, a, i0 - a, i1 - a, wh0, wh1, j0, j1, ww0, ww1)
    shared = (count > 1).nonzero()[:, 0]  # the pixels with several candidates
    uppers = [u for u in TIERS if u < slots.shape[0]] + [slots.shape[0]]
    tier = torch.bucketize(count.index_select(0, shared), torch.tensor(uppers))  # (uppers[k-1], uppers[k]]
    grouped = (tier == torch.arange(len(uppers)).view(-1, 1)).nonzero()  # by tier, then position: one op
    shared = shared.index_select(0, grouped[:, 1])  # (a sort by count takes ~190 ms at 2 threads here)
    ends = torch.searchsorted(grouped[:, 0].contiguous(), torch.arange(len(uppers)), right=True).tolist()
    for upper, start, end in zip(uppers, [0, *ends], ends):  # pixels with at most `upper` candidates
        for pixels in shared[start:end].split(max(1, CHUNK // upper)):  # small pieces: see CHUNK
            channel = slots[:upper].index_select(1, block.index_select(0, pixels))
            labels.index_copy_(0, pixels, _blend_pixels(x, weights, channel, geometry, rule[1], pixels))
    return labels.view(batch, *size)


def _blend_pixels(x: Tensor, weights: Optional[Tensor], channel: Tensor, geometry: tuple, combine: str,
                  pixels: Tensor) -> Tensor:
    """The first best of the channels ``channel [M, P]`` of ``x [B, C, h, w]`` resized at the flat output
    pixels ``pixels [P]`` (columns first, then rows, as torch's kernel) -> ``[P]`` channel ids."""
    from .banded import _combine

    (out_h, out_w), a, di0, di1, wh0, wh1, j0, j1, ww0, ww1 = geometry
    channels, h, w = x.shape[1:]
    image, rr, cc = pixels // (out_h * out_w), pixels // out_w % out_h, pixels % out_w
    ar = a.index_select(0, rr)
    base = (image * channels + channel) * (h * w)  # [M, P]
    row0, row1 = (ar + di0.index_select(0, rr)) * w, (ar + di1.index_select(0, rr)) * w
    c0, c1 = j0.index_select(0, cc), j1.index_select(0, cc)
    flat = x.reshape(-1)

    def at(offset: Tensor) -> Tensor:
        return flat.gather(0, (base + offset).flatten()).view(base.shape)

    w0, w1 = ww0.index_select(0, cc), ww1.index_select(0, cc)
    top = _combine(at(row0 + c0), at(row0 + c1), w0, w1, combine)
    bottom = _combine(at(row1 + c0), at(row1 + c1), w0, w1, combine)
    blended = _combine(top, bottom, wh0.index_select(0, rr), wh1.index_select(0, rr), combine)
    if weights is not None:
        blended = blended * weights.reshape(-1).gather(0, (image * channels + channel).flatten()).view(base.shape)
    best_value, best = blended[0], channel[0]
    for m in range(1, len(channel)):  # the first largest, as argmax (a strict comparison keeps ties first;
        better = blended[m] > best_value  # argmax / max(dim) hand off to threads even at this size)
        best_value, best = torch.where(better, blended[m], best_value), torch.where(better, channel[m], best)
    return best
