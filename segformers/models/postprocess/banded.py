"""Bilinear resizing (``align_corners=False``) computed in horizontal bands of output rows, bit-equal to
one ``F.interpolate`` call over the whole tensor.

Why it is exact: torch's CPU bilinear kernel (the generic separable one, ``upsample_generic_Nd``) gives
output pixel ``(r, c)`` from two input rows and two input columns whose indices and weights depend only
on ``(input size, output size, r)`` and ``(..., c)``. :func:`source_index` recomputes them for any range
of output rows; a band of output rows then needs only the input rows those indices name (one row of
margin each side at most), and the arithmetic is repeated in the kernel's own order. Which order that is
(the weights' ``scale * (i + 0.5) - 0.5`` and the ``t0 * w0 + t1 * w1`` combination, each fused into one
rounding or not, depending on how torch was compiled) is not assumed: :func:`kernel_rule` measures it
once against ``F.interpolate`` on a probe input and picks the rule that reproduces it bit for bit.
Where no rule does, or where torch takes its other (channels-last, vectorized) kernel for a shape, that
resize step is computed in one piece and sliced (exact, not banded), with a warning for the former.
"""
from __future__ import annotations

import functools
import warnings
from typing import Callable, Iterator, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

Size = tuple[int, int]
# (how the source coordinate is rounded, how the two neighbours are combined): see kernel_rule
Rule = tuple[str, str]
RULES: tuple[Rule, ...] = tuple((s, c) for s in ("fused", "plain") for c in ("fused_first", "plain", "fused_second"))


def source_index(in_size: int, out_size: int, lo: int, hi: int, fused: bool = True
                 ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Input indices ``i0, i1 [hi-lo]`` (int64) and weights ``w0, w1 [hi-lo]`` (float32) of output
    positions ``lo..hi-1`` along one axis, as torch's bilinear kernel computes them (``align_corners=False``,
    no ``scale_factor``): ``scale = float32(in) / out``, ``src = max(scale * (i + 0.5) - 0.5, 0)``,
    ``i0 = min(floor(src), in - 1)``, ``i1 = i0 + (i0 < in - 1)``, ``w1 = clamp(src - i0, 0, 1)``,
    ``w0 = 1 - w1``. ``fused``: ``scale * (i + 0.5) - 0.5`` rounded once (a fused multiply-add)."""
    if in_size == out_size:  # torch copies: same index twice, weights (1, 0)
        idx = torch.arange(lo, hi)
        return idx, idx, torch.ones(hi - lo), torch.zeros(hi - lo)
    scale = torch.tensor(in_size, dtype=torch.float32) / out_size
    if fused:  # the product is exact in float64 and so is the subtraction: one rounding, as an FMA
        src = (scale.double() * (torch.arange(lo, hi, dtype=torch.float64) + 0.5) - 0.5).float()
    else:
        src = scale * (torch.arange(lo, hi, dtype=torch.float32) + 0.5) - 0.5
    src = src.clamp(min=0)
    i0 = src.floor().long().clamp(max=in_size - 1)
    w1 = (src - i0.float()).clamp(0, 1)
    return i0, i0 + (i0 < in_size - 1).long(), 1 - w1, w1


def _combine(t0: Tensor, t1: Tensor, w0: Tensor, w1: Tensor, rule: str) -> Tensor:
    """``t0 * w0 + t1 * w1`` rounded as the kernel rounds it (``fused_first``: ``fma(t0, w0, t1 * w1)``)."""
    if rule == "fused_first":
        return torch.addcmul(t1 * w1, t0, w0)
    if rule == "fused_second":
        return torch.addcmul(t0 * w0, t1, w1)
    return t0 * w0 + t1 * w1


def lerp_axis(x: Tensor, axis: int, in_size: int, out_size: int, lo: int, hi: int, offset: int, rule: Rule
              ) -> Tensor:
    """Output positions ``lo..hi-1`` of a 1-D bilinear resize ``in_size -> out_size`` along ``axis``
    (-1 or -2) of ``x``, which holds input positions ``offset..`` of that axis."""
    i0, i1, w0, w1 = source_index(in_size, out_size, lo, hi, fused=rule[0] == "fused")
    shape = [1] * x.dim()
    shape[axis] = hi - lo
    t0, t1 = x.index_select(axis, i0 - offset), x.index_select(axis, i1 - offset)
    return _combine(t0, t1, w0.view(shape), w1.view(shape), rule[1])


def uses_generic_kernel(channels: int, out_hw: Size) -> bool:
    """Whether torch's CPU bilinear resize of a contiguous ``[1, C, h, w]`` float32 tensor to ``out_hw``
    takes the generic kernel that :class:`BandedResize` reproduces (torch picks its channels-last kernel
    for outputs with ``H + W <= 128`` and, in a one-thread process, for three channels)."""
    return out_hw[0] + out_hw[1] > 128 and not (torch.get_num_threads() == 1 and channels == 3)


class BandedResize:
    """Rows of ``x [C, h, w]`` after a chain of steps, each "crop to ``crop_hw`` (``[..., :h, :w]``), then
    resize bilinearly to ``out_hw``" (``align_corners=False``), equal bit for bit to the one-piece
    ``F.interpolate`` calls; ``rows(r0, r1)`` -> ``[C, r1 - r0, W]`` of the last step's output.

    Args:
        x: ``[C, h, w]`` float32 input (another dtype: every step is computed in one piece).
        steps: ``(crop_hw, out_hw)`` per step, applied in order.
    """

    def __init__(self, x: Tensor, steps: Sequence[tuple[Size, Size]]) -> None:
        if x.dim() != 3:
            raise ValueError(f"BandedResize: expected x [C, h, w], got shape {tuple(x.shape)}.")
        self.x, self.steps, self._whole = x, [], {}
        in_hw = tuple(x.shape[-2:])
        for crop_hw, out_hw in steps:
            crop_hw = (min(int(crop_hw[0]), in_hw[0]), min(int(crop_hw[1]), in_hw[1]))
            out_hw = (int(out_hw[0]), int(out_hw[1]))
            self.steps.append((crop_hw, out_hw))
            in_hw = out_hw
        self.out_hw: Size = in_hw
        self.rule = kernel_rule() if x.dtype == torch.float32 else None

    def _banded(self, k: int) -> bool:
        crop_hw, out_hw = self.steps[k - 1]
        return crop_hw == out_hw or (self.rule is not None and uses_generic_kernel(self.x.shape[0], out_hw))

    def _step_whole(self, k: int) -> Tensor:
        """Output of step ``k`` (1-based) in one piece, as the one-piece code computes it."""
        if k not in self._whole:
            prev = self.x if k == 1 else self._rows(k - 1, 0, self.steps[k - 2][1][0])
            (h, w), out_hw = self.steps[k - 1]
            self._whole[k] = F.interpolate(prev[None, :, :h, :w], size=out_hw, mode="bilinear",
                                           align_corners=False)[0]
        return self._whole[k]

    def _rows(self, k: int, r0: int, r1: int) -> Tensor:
        if k == 0:
            return self.x[:, r0:r1]
        if not self._banded(k):
            return self._step_whole(k)[:, r0:r1]
        (in_h, in_w), (out_h, out_w) = self.steps[k - 1]
        if in_h == out_h:
            a0, a1 = r0, r1
        else:
            i0, i1, _, _ = source_index(in_h, out_h, r0, r1)
            a0, a1 = int(i0[0]), int(i1[-1]) + 1
        src = self._rows(k - 1, a0, a1)[..., :in_w]
        if in_w != out_w:
            src = lerp_axis(src, -1, in_w, out_w, 0, out_w, 0, self.rule)
        if in_h != out_h:
            src = lerp_axis(src, -2, in_h, out_h, r0, r1, a0, self.rule)
        return src

    def rows(self, r0: int, r1: int) -> Tensor:
        """``[C, r1 - r0, W]``: output rows ``r0..r1-1`` of the last step."""
        if not 0 <= r0 < r1 <= self.out_hw[0]:
            raise ValueError(f"BandedResize.rows: need 0 <= r0 < r1 <= {self.out_hw[0]}, got ({r0}, {r1}).")
        return self._rows(len(self.steps), r0, r1)


def band_ranges(height: int, row_elements: int, max_elements: int) -> Iterator[tuple[int, int]]:
    """``(r0, r1)`` bands covering ``height`` rows with at most ``max_elements`` elements each (at least
    one row) when one row holds ``row_elements``."""
    step = max(1, int(max_elements) // max(1, int(row_elements)))
    for r0 in range(0, height, step):
        yield r0, min(height, r0 + step)


def banded_resize_reduce(resize: BandedResize, fn: Callable[[Tensor, int, int], Optional[Tensor]],
                         max_elements: int) -> list[Tensor]:
    """Apply ``fn(rows [C, r1-r0, W], r0, r1)`` to every band of ``resize``'s output (bands of at most
    ``max_elements`` elements); returns the non-``None`` values ``fn`` gave, in row order."""
    channels, width = resize.x.shape[0], resize.out_hw[1]
    out = []
    for r0, r1 in band_ranges(resize.out_hw[0], channels * width, max_elements):
        value = fn(resize.rows(r0, r1), r0, r1)
        if value is not None:
            out.append(value)
    return out


def _probe_matches(rule: Rule) -> bool:
    gen = torch.Generator().manual_seed(0)
    for (c, h, w), crop, out in (((5, 23, 37), (21, 30), (150, 211)), ((4, 40, 9), (40, 9), (97, 131)),
                                 ((6, 7, 61), (6, 61), (300, 59))):
        x = torch.randn(c, h, w, generator=gen) * 8
        ref = F.interpolate(x[None, :, :crop[0], :crop[1]], size=out, mode="bilinear", align_corners=False)[0]
        banded = BandedResize.__new__(BandedResize)
        banded.x, banded.steps, banded._whole, banded.out_hw, banded.rule = x, [(crop, out)], {}, out, rule
        got = torch.cat([banded.rows(r0, r1) for r0, r1 in band_ranges(out[0], 7, 40)], dim=1)
        if not torch.equal(got, ref):
            return False
    return True


@functools.lru_cache(maxsize=None)
def kernel_rule() -> Optional[Rule]:
    """The rounding rule of this torch build's bilinear kernel (see :data:`RULES`), measured once by
    resizing probe inputs both ways; ``None`` (with a warning) when no rule reproduces it bit for bit."""
    with torch.no_grad():
        for rule in RULES:
            if _probe_matches(rule):
                return rule
    warnings.warn("segformers banded post-processing: this torch build's bilinear kernel follows none of the "
                  "known rounding rules, so large images are resized in one piece (exact, but memory as before).")
    return None
