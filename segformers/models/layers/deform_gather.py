"""The ``"gather"`` implementation of multi-scale deformable attention (see :mod:`.ms_deform_attn`).

Every level of ``value`` is zero-padded (1 pixel top/left, 2 bottom/right) into one table whose rows are
(image, padded pixel, head) vectors of ``D`` channels. Each sampling point becomes 4 corner rows and 4
weights (bilinear x attention) and one ``F.embedding_bag`` sums them. Pixel coordinates are clamped to
``[-1, W] x [-1, H]``, so every corner lands in the table and corners outside the map read zeros:
``grid_sample``'s zero padding, gradients included; NaN locations count as outside (as in the CUDA kernel).

:class:`DeformGather` is one autograd node for the whole op, with a hand-written backward:

* ``d value``: the transposed gather (:func:`~.weighted_gather._scatter_corners`), un-padded;
* ``d attention`` and ``d locations`` in closed form from the 4 corners' dot products with the output
  gradient, ``dot_c = <table row of corner c, grad_out>`` (:func:`~.weighted_gather._tap_dots`): with the
  fractional position ``(fx, fy)``, ``d attn = sum_c bilinear_c * dot_c`` and ``d fx, d fy`` are the
  attention weight times the x / y differences of the dots interpolated along the other axis;
  ``d loc = d pix * (W, H)``, zero where the coordinate was clamped (as ``grid_sample``'s zero padding).

Per-shape constants (per point column: level size, padded row length, first row; the corner offsets)
are built once per (shapes, batch, heads, points, dtype, device) and cached.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from .weighted_gather import CornerLayout, _scatter_corners, _tap_dots

Shapes = tuple[tuple[int, int], ...]


class GatherConstants(NamedTuple):
    """Per-call constants of one (shapes, batch, heads, points, dtype, device); ``L*P`` point columns.

    ``size``: ``(W, H)`` per column ``[L*P*2]`` (coordinate dtype); ``row``: padded row length x heads
    ``[L*P]`` and ``origin``: table row of pixel (0, 0) of every (image, head, column) ``[N, 1, M, L*P]``
    (both in the exact float dtype of the row arithmetic); ``corners``: row offsets of the 4 corners
    (top-left, top-right, bottom-left, bottom-right) ``[4, L*P]`` (index dtype); ``layout``: the same
    offsets per level for the table gradient.
    """

    size: Tensor
    row: Tensor
    origin: Tensor
    corners: Tensor
    layout: CornerLayout


def _padded_levels(shapes: Shapes) -> list[tuple[int, int, tuple[int, int, int, int]]]:
    """Per level of one image's padded table, in pixels: first row, number of rows, and the row offsets of a
    bilinear group's 4 corners from its top-left one (top-left, top-right, bottom-left, bottom-right)."""
    levels, start = [], 0
    for h, w in shapes:
        levels.append((start, (h + 3) * (w + 3), (0, 1, w + 3, w + 4)))
        start += (h + 3) * (w + 3)
    return levels


def _corner_layout(shapes: Shapes, heads: int) -> CornerLayout:
    """The padded table's rows per image and, per level, its rows and the 4 corners' row offsets (x heads)."""
    levels = _padded_levels(shapes)
    blocks = [(start * heads, (start + rows) * heads, tuple(o * heads for o in offsets))
              for start, rows, offsets in levels]
    return CornerLayout(period=sum(rows for _, rows, _ in levels) * heads, blocks=blocks)


@functools.lru_cache(maxsize=64)
def gather_constants(shapes: Shapes, batch: int, heads: int, points: int, dtype: torch.dtype,
                     device: torch.device) -> GatherConstants:
    """The :class:`GatherConstants` of one call (cached; ``dtype``: the coordinates' dtype, >= fp32)."""
    levels = _padded_levels(shapes)
    rows = sum(r for _, r, _ in levels) * heads * batch
    exact = dtype if rows < 2**24 or dtype == torch.float64 else torch.float64  # integer rows stay exact
    index_dtype = torch.int32 if rows < 2**31 else torch.int64
    with torch.inference_mode(False):  # usable (and savable) outside inference mode too

        def per_point(values: list, dt: torch.dtype) -> Tensor:
            return torch.tensor(values, dtype=dt, device=device).repeat_interleave(points, 0)

        image = torch.arange(batch, dtype=exact, device=device).view(batch, 1, 1, 1) * (rows // batch)
        head = torch.arange(heads, dtype=exact, device=device).view(1, 1, heads, 1)
        first = per_point([(start + w + 4) * heads for (start, _, _), (_, w) in zip(levels, shapes)], exact)
        return GatherConstants(
            size=per_point([[w, h] for h, w in shapes], dtype).flatten(),
            row=per_point([(w + 3) * heads for _, w in shapes], exact),
            origin=image + head + first,
            corners=per_point([[o * heads for o in offsets] for _, _, offsets in levels], index_dtype).t()
            .contiguous(),
            layout=_corner_layout(shapes, heads),
        )


def _pixels(loc: Tensor, size: Tensor) -> Tensor:
    """``[N, Lq, M, L, P, 2] -> [N*Lq*M, L*P*2]`` pixel coordinates ``loc * size - 0.5`` (not clamped)."""
    rows = loc.shape[0] * loc.shape[1] * loc.shape[2]
    return torch.addcmul(torch.full((), -0.5, dtype=size.dtype, device=size.device),
                         loc.reshape(rows, -1).to(size.dtype), size)


def _taps(loc: Tensor, attn: Tensor, consts: GatherConstants) -> tuple[Tensor, Tensor, Tensor]:
    """Table rows ``[N*Lq*M, 4*L*P]`` (corner-major: tap ``c * L*P + j``), their weights (bilinear x
    attention, coordinate dtype) and the fractional pixel positions ``(fx, fy)`` ``[N*Lq*M, 2, L*P]``."""
    pix = _pixels(loc, consts.size).nan_to_num_(nan=-1.0)
    pix = pix.clamp_(min=torch.full((), -1.0, dtype=pix.dtype, device=pix.device), max=consts.size)
    top_left = pix.floor()
    n, lq, heads = loc.shape[:3]
    rows, lp = pix.shape[0], pix.shape[1] // 2
    # planar (fx, fy): an interleaved (x, y) operand makes the backward's lerps ~4x slower
    frac = torch.empty(rows, 2, lp, dtype=pix.dtype, device=pix.device)
    for axis in range(2):
        torch.sub(pix.view(rows, lp, 2)[..., axis], top_left.view(rows, lp, 2)[..., axis], out=frac[:, axis])
    tx, ty = top_left.to(consts.row.dtype).view(rows, lp, 2).unbind(-1)
    first = torch.add(consts.origin, tx.view(n, lq, heads, lp), alpha=heads).view(rows, lp)
    first = first.addcmul_(ty, consts.row).to(consts.corners.dtype)  # the top-left corner's table row
    index = torch.empty(rows, 4, lp, dtype=first.dtype, device=first.device)
    for c in range(4):  # one add per corner: a broadcast over a 4-wide axis is ~10x slower on CPU
        torch.add(first, consts.corners[c], out=index[:, c])

    fx, fy = frac.unbind(1)
    a = attn.reshape(rows, lp).to(pix.dtype)
    bottom = a * fy
    top = a - bottom
    weights = torch.empty(rows, 4, lp, dtype=pix.dtype, device=pix.device)
    torch.mul(top, fx, out=weights[:, 1])
    torch.sub(top, weights[:, 1], out=weights[:, 0])
    torch.mul(bottom, fx, out=weights[:, 3])
    torch.sub(bottom, weights[:, 3], out=weights[:, 2])
    return index.view(rows, 4 * lp), weights.view(rows, 4 * lp), frac


def _padded_table(value: Tensor, shapes: Shapes) -> Tensor:
    """``[N, S, M, D] -> [N, S_pad, M*D]``: each level zero-padded by 1 pixel top/left and 2 bottom/right."""
    n, s, m, d = value.shape
    flat = value.reshape(n, s, m * d)
    table = value.new_zeros(n, sum((h + 3) * (w + 3) for h, w in shapes), m * d)
    start = 0
    for (h, w), (first, rows, _) in zip(shapes, _padded_levels(shapes)):
        level = table[:, first:first + rows].view(n, h + 3, w + 3, m * d)
        level[:, 1:h + 1, 1:w + 1].copy_(flat[:, start:start + h * w].reshape(n, h, w, m * d))
        start += h * w
    return table


def _unpadded(grad_table: Tensor, shapes: Shapes, value_shape: torch.Size) -> Tensor:
    """The inverse of :func:`_padded_table` for gradients: ``[N, S_pad, M*D] -> [N, S, M, D]``."""
    n, s, m, d = value_shape
    grad = grad_table.new_empty(n, s, m * d)
    start = 0
    for (h, w), (first, rows, _) in zip(shapes, _padded_levels(shapes)):
        level = grad_table[:, first:first + rows].view(n, h + 3, w + 3, m * d)
        grad[:, start:start + h * w].view(n, h, w, m * d).copy_(level[:, 1:h + 1, 1:w + 1])
        start += h * w
    return grad.view(n, s, m, d)


def _point_grads(dots: Tensor, frac: Tensor, loc: Tensor, attn: Tensor, size: Tensor) -> tuple[Tensor, Tensor]:
    """``d loc [N*Lq*M, L*P*2]`` and ``d attn [N*Lq*M, L*P]`` from the corners' dots ``[N*Lq*M, 4*L*P]`` and
    the fractional positions ``frac [N*Lq*M, 2, L*P]``."""
    rows, lp = frac.shape[0], frac.shape[2]
    d_tl, d_tr, d_bl, d_br = dots.view(rows, 4, lp).unbind(1)
    fx, fy = frac.unbind(1)
    top, bottom = torch.lerp(d_tl, d_tr, fx), torch.lerp(d_bl, d_br, fx)
    grad_attn = torch.lerp(top, bottom, fy)
    a = attn.reshape(rows, lp).to(frac.dtype)
    d_pix = frac.new_empty(rows, lp, 2)
    torch.mul(torch.lerp(d_tr, d_br, fy).sub_(torch.lerp(d_tl, d_bl, fy)), a, out=d_pix[..., 0])
    torch.mul(bottom.sub_(top), a, out=d_pix[..., 1])
    pix = _pixels(loc, size)
    clamped = pix.clamp(min=torch.full((), -1.0, dtype=pix.dtype, device=pix.device), max=size) != pix  # or NaN
    grad_loc = d_pix.view(rows, 2 * lp).mul_(size).masked_fill_(clamped, 0.0)
    return grad_loc, grad_attn


class DeformGather(torch.autograd.Function):
    """``value [N, S, M, D]``, ``loc [N, Lq, M, L, P, 2]``, ``attn [N, Lq, M, L, P]`` ``-> [N, Lq, M*D]``."""

    @staticmethod
    def forward(ctx, value: Tensor, loc: Tensor, attn: Tensor, shapes: Shapes,  # noqa: ANN001
                consts: GatherConstants) -> Tensor:
        n, _, m, d = value.shape
        table = _padded_table(value, shapes).view(-1, d)
        index, weights, frac = _taps(loc, attn, consts)
        weights = weights.to(value.dtype)
        out = F.embedding_bag(index, table, per_sample_weights=weights, mode="sum")
        ctx.save_for_backward(table, index, weights, frac, loc, attn)
        ctx.shapes, ctx.consts, ctx.value_shape = shapes, consts, value.shape
        return out.view(n, loc.shape[1], m * d)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor) -> tuple:  # noqa: ANN001
        table, index, weights, frac, loc, attn = ctx.saved_tensors
        grad_out = grad_out.reshape(index.shape[0], table.shape[1]).contiguous()
        grad_value = grad_loc = grad_attn = None
        if ctx.needs_input_grad[0]:
            grad_table = _scatter_corners(index, weights, grad_out, table.shape[0], ctx.consts.layout)
            grad_value = _unpadded(grad_table.view(ctx.value_shape[0], -1, grad_table.shape[1] * ctx.value_shape[2]),
                                   ctx.shapes, ctx.value_shape)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            dots = _tap_dots(index.view(-1), table, grad_out, index.shape[1], frac.dtype)
            grad_loc, grad_attn = _point_grads(dots, frac, loc, attn, ctx.consts.size)
            grad_loc, grad_attn = grad_loc.view(loc.shape).to(loc.dtype), grad_attn.view(attn.shape).to(attn.dtype)
        return grad_value, grad_loc, grad_attn, None, None


def ms_deform_attn_gather(value: Tensor, shapes: Shapes, loc: Tensor, attn: Tensor) -> Tensor:
    """Bilinear taps as rows of a zero-padded value table, reduced by ``embedding_bag``: ``-> [N, Lq, M * D]``
    (inputs as :func:`~.ms_deform_attn.ms_deform_attn`'s, checked there)."""
    shapes = tuple((int(h), int(w)) for h, w in shapes)
    coords = torch.promote_types(loc.dtype, torch.float32)  # coordinates in >= fp32, even for bf16 inputs
    consts = gather_constants(shapes, value.shape[0], value.shape[2], loc.shape[4], coords, value.device)
    return DeformGather.apply(value, loc, attn, shapes, consts)
