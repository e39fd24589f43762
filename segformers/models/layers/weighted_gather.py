"""Weighted row gathering (``F.embedding_bag(mode="sum")`` with per-sample weights) with a faster backward.

``out[b] = sum_t weights[b, t] * table[index[b, t]]``. The forward is ``embedding_bag``. PyTorch's own
backward of it on CPU dominates the deformable attention's time at its shapes (many short bags,
narrow rows). :class:`WeightedGather` computes the same gradients with vectorised ops instead:

* ``d table``: the taps are sorted by table row once (stable sort, so the summation order is fixed and
  the result deterministic), and the transposed problem is one more ``embedding_bag`` over the output
  gradient: ``grad_table[r] = sum_{(b, t): index[b, t] = r} weights[b, t] * grad_out[b]``;
* ``d weights``: ``grad_weights[b, t] = <table[index[b, t]], grad_out[b]>``, the product
  ``grad_out @ table.T`` sampled at the taps: ``torch.sparse.sampled_addmm`` on a CSR pattern of the
  taps (one independent dot product per tap, in tap order, duplicates allowed) on CPU (bf16 / fp16
  widened to fp32), which never writes the gathered rows out; on CUDA one ``index_select`` and one
  batched matrix-vector product (on the quick start's shapes the whole op's forward + backward took
  about twice as long that way in fp32 on CPU).

With a :class:`CornerLayout` (bilinear sampling: every bag holds ``G`` groups of four corners, stored
corner-major, whose rows differ by fixed offsets within a block of rows), ``d table`` sorts only the
groups' first corners, reduces each corner with one ``embedding_bag`` and shifts the four results into
place: a quarter of the sort.

The deformable attention's gather path (:mod:`.deform_gather`) uses the two backward halves directly;
``tests/models/test_weighted_gather.py`` checks them against ``embedding_bag``'s own backward.
"""
from __future__ import annotations

import warnings
from typing import NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


class CornerLayout(NamedTuple):
    """How taps come in fours: with ``G = taps / 4`` groups per bag, tap ``c * G + g`` of a bag (corner-major)
    reads row ``first + offsets[c]``, ``first`` being group ``g``'s corner-0 row (``offsets[0] == 0``) and
    ``offsets`` those of the block holding ``first``.

    ``blocks``: ``[(start, end, (0, o1, o2, o3)), ...]``, row ranges inside one period of ``period`` rows
    (the table repeats the blocks every ``period`` rows, e.g. once per image); every corner of a group
    lies in its first corner's block.
    """

    period: int
    blocks: Sequence[tuple[int, int, tuple[int, int, int, int]]]


class WeightedGather(torch.autograd.Function):
    """``index [B, T]`` (int32/int64), ``table [R, D]``, ``weights [B, T]`` ``-> [B, D]`` (table's dtype)."""

    @staticmethod
    def forward(ctx, index: Tensor, table: Tensor, weights: Tensor,  # noqa: ANN001
                layout: Optional[CornerLayout] = None) -> Tensor:
        ctx.save_for_backward(index, table, weights)
        ctx.layout = layout
        return F.embedding_bag(index, table, per_sample_weights=weights, mode="sum")

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> tuple[None, Optional[Tensor], Optional[Tensor], None]:  # noqa: ANN001
        index, table, weights = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        bags, taps = index.shape
        flat = index.reshape(-1)
        grad_table = grad_weights = None
        if ctx.needs_input_grad[2]:
            grad_weights = _tap_dots(flat, table, grad_out, taps).to(weights.dtype)
        if ctx.needs_input_grad[1]:
            if ctx.layout is None:
                grad_table = _scatter_rows(flat, weights.reshape(-1), grad_out, taps, table.shape[0])
            else:
                grad_table = _scatter_corners(index, weights, grad_out, table.shape[0], ctx.layout)
        return None, grad_table, grad_weights, None


def _tap_dots(flat: Tensor, table: Tensor, grad_out: Tensor, taps: int,
              out_dtype: Optional[torch.dtype] = None) -> Tensor:
    """``[B, T]``: ``<table[flat[b * T + t]], grad_out[b]>`` for every tap, in ``out_dtype`` (default: the
    table's). On CPU, bf16 / fp16 operands are widened to fp32 for ``sampled_addmm`` (~5x faster than the
    gather + ``bmm`` there, and exact to fp32)."""
    bags, out_dtype = grad_out.shape[0], out_dtype or table.dtype
    if table.device.type == "cpu" and table.dtype in (torch.bfloat16, torch.float16):
        table, grad_out = table.float(), grad_out.float()
    sparse_ok = table.device.type == "cpu" and table.dtype in (torch.float32, torch.float64)
    if sparse_ok and grad_out.dtype == table.dtype:
        crow = torch.arange(0, bags * taps + 1, taps, dtype=flat.dtype)
        values = torch.zeros(len(flat), dtype=table.dtype)
        with warnings.catch_warnings():  # CSR support is "beta" (a one-time UserWarning)
            warnings.simplefilter("ignore", UserWarning)
            pattern = torch.sparse_csr_tensor(crow, flat, values, (bags, table.shape[0]), check_invariants=False)
            # in place (out=pattern): the out-of-place call first copies the whole pattern, ~1/3 of its time
            torch.sparse.sampled_addmm(pattern, grad_out, table.t(), beta=0.0, out=pattern)
        return values.view(bags, taps).to(out_dtype)
    rows = table.index_select(0, flat).view(bags, taps, -1)
    return torch.bmm(rows, grad_out.unsqueeze(-1)).view(bags, taps).to(out_dtype)


def _rows_in_order(rows: Tensor, per_bag: int, num_rows: int) -> tuple[Tensor, Tensor, Tensor]:
    """For flat ``rows`` (``per_bag`` entries per bag): the stable order that sorts them by row, each
    table row's offset into that order ``[R]``, and the bag of each sorted entry."""
    sorted_rows, order = torch.sort(rows, stable=True)
    counts = torch.bincount(sorted_rows, minlength=num_rows)
    return order, torch.cumsum(counts, 0) - counts, torch.div(order, per_bag, rounding_mode="floor")


def _scatter_rows(flat: Tensor, weights: Tensor, grad_out: Tensor, taps: int, num_rows: int) -> Tensor:
    """``[R, D]``: ``sum`` over taps of ``weights * grad_out[bag of tap]`` into the tap's table row."""
    order, offsets, bag_of = _rows_in_order(flat, taps, num_rows)
    return F.embedding_bag(bag_of, grad_out, offsets, mode="sum",
                           per_sample_weights=weights.index_select(0, order).to(grad_out.dtype))


def _scatter_corners(index: Tensor, weights: Tensor, grad_out: Tensor, num_rows: int,
                     layout: CornerLayout) -> Tensor:
    """:func:`_scatter_rows` for taps in corner groups: ``[R, D]`` from one sort of the groups' first rows."""
    bags, taps = index.shape
    groups = taps // 4
    first = index[:, :groups].reshape(-1)
    order, offsets, bag_of = _rows_in_order(first, groups, num_rows)
    if bag_of.dtype != first.dtype:  # embedding_bag wants indices and offsets of one dtype; int32 is faster
        bag_of, offsets = bag_of.to(first.dtype), offsets.to(first.dtype)
    corner_weights = weights.view(bags, 4, groups)
    grad = None
    for c in range(4):
        weights_c = corner_weights[:, c].reshape(-1).index_select(0, order).to(grad_out.dtype)
        summed = F.embedding_bag(bag_of, grad_out, offsets, mode="sum", per_sample_weights=weights_c)
        if grad is None:  # corner 0: offset 0 everywhere
            grad = summed
            continue
        dst, src = grad.view(-1, layout.period, grad.shape[-1]), summed.view(-1, layout.period, grad.shape[-1])
        for start, end, shift in layout.blocks:
            dst[:, start + shift[c]:end] += src[:, start:end - shift[c]]
    return grad


def weighted_gather(index: Tensor, table: Tensor, weights: Tensor, layout: Optional[CornerLayout] = None) -> Tensor:
    """``out [B, D] = sum_t weights[b, t] * table[index[b, t]]`` (see :class:`WeightedGather`); ``layout``
    (taps in corner groups, :class:`CornerLayout`) makes the table gradient cheaper, not different."""
    if layout is not None and index.shape[1] % 4:
        raise ValueError(f"weighted_gather: a CornerLayout needs taps in groups of 4, got {index.shape[1]} per bag")
    if layout is not None and any(shift[0] != 0 or not 0 <= start < end <= layout.period
                                  for start, end, shift in layout.blocks):
        raise ValueError(f"weighted_gather: CornerLayout blocks must lie in [0, period={layout.period}) and give "
                         f"corner 0 the offset 0, got {list(layout.blocks)}")
    return WeightedGather.apply(index, table, weights, layout)
