"""Deformable convolution (v1, and v2 with a modulation mask) in plain PyTorch: ``F.grid_sample`` bilinear
sampling of the k x k taps at their offset positions, then one contraction over (channels, taps).

No torchvision: ``deform_conv2d`` here is the reference the FaPN pixel decoder uses. With zero offsets (and
no mask) it equals ``F.conv2d`` with the same weight, padding and dilation (stride 1).
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _tap_positions(size: tuple[int, int], out_size: tuple[int, int], kernel: tuple[int, int], padding: int,
                   dilation: int, like: Tensor) -> tuple[Tensor, Tensor]:
    """Undeformed sampling rows ``[taps, h_out, 1]`` and columns ``[taps, 1, w_out]`` (input pixel indices)."""
    ky, kx = torch.meshgrid(torch.arange(kernel[0], device=like.device, dtype=like.dtype),
                            torch.arange(kernel[1], device=like.device, dtype=like.dtype), indexing="ij")
    rows = torch.arange(out_size[0], device=like.device, dtype=like.dtype)
    cols = torch.arange(out_size[1], device=like.device, dtype=like.dtype)
    ys = rows[None, :, None] - padding + dilation * ky.reshape(-1)[:, None, None]
    xs = cols[None, None, :] - padding + dilation * kx.reshape(-1)[:, None, None]
    return ys, xs


def deform_conv2d(x: Tensor, offset: Tensor, weight: Tensor, bias: Optional[Tensor] = None, *, padding: int = 0,
                  dilation: int = 1, mask: Optional[Tensor] = None, deform_groups: int = 1) -> Tensor:
    """Deformable convolution, stride 1.

    Args:
        x: ``[B, C, H, W]``.
        offset: ``[B, 2 * G * k_h * k_w, H_out, W_out]``, per group ``g`` and tap ``t`` (row-major over the
            kernel) the pair ``(dy, dx)`` at channels ``2 * (g * taps + t)`` and ``+ 1`` (torchvision's layout).
        weight: ``[C_out, C, k_h, k_w]``; bias ``[C_out]`` or ``None``.
        mask: ``[B, G * k_h * k_w, H_out, W_out]`` modulation (DCNv2), or ``None``.
        deform_groups: ``G``; channel group ``g`` of ``x`` is sampled with group ``g``'s offsets.

    Returns ``[B, C_out, H_out, W_out]`` with ``H_out = H + 2 padding - dilation (k_h - 1)`` (and so for W).
    Positions outside the map read zeros (as a zero-padded convolution does).
    """
    b, c, h, w = x.shape
    out_c, in_c, kh, kw = weight.shape
    taps, g = kh * kw, deform_groups
    out_size = (h + 2 * padding - dilation * (kh - 1), w + 2 * padding - dilation * (kw - 1))
    if in_c != c or c % g:
        raise ValueError(f"deform_conv2d: x has {c} channels, weight expects {in_c}; channels must divide "
                         f"into deform_groups={g}.")
    expected = (b, 2 * g * taps, *out_size)
    if tuple(offset.shape) != expected:
        raise ValueError(f"deform_conv2d: offset must be {expected} ([B, 2 * deform_groups * k_h * k_w, H_out, "
                         f"W_out]), got {tuple(offset.shape)}.")
    if mask is not None and tuple(mask.shape) != (b, g * taps, *out_size):
        raise ValueError(f"deform_conv2d: mask must be {(b, g * taps, *out_size)}, got {tuple(mask.shape)}.")
    ys, xs = _tap_positions((h, w), out_size, (kh, kw), padding, dilation, x)
    off = offset.view(b, g, taps, 2, *out_size)
    py, px = ys + off[:, :, :, 0], xs + off[:, :, :, 1]  # [B, G, taps, H_out, W_out]
    grid = torch.stack(((2 * px + 1) / w - 1, (2 * py + 1) / h - 1), dim=-1)  # align_corners=False convention
    grid = grid.reshape(b * g, taps * out_size[0], out_size[1], 2).to(x.dtype)
    sampled = F.grid_sample(x.reshape(b * g, c // g, h, w), grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False)
    sampled = sampled.view(b, g, c // g, taps, *out_size)
    if mask is not None:
        sampled = sampled * mask.view(b, g, 1, taps, *out_size)
    out = torch.einsum("bcthw,oct->bohw", sampled.reshape(b, c, taps, *out_size), weight.reshape(out_c, c, taps))
    return out if bias is None else out + bias.view(1, -1, 1, 1)


class DeformConv2d(nn.Module):
    """A deformable convolution layer (stride 1): ``forward(x [B, C, H, W], offset, mask=None) ->
    [B, out_channels, H_out, W_out]``; weight ``[out, in, k, k]`` initialised as ``nn.Conv2d``'s."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, *, padding: int = 1,
                 dilation: int = 1, deform_groups: int = 1, bias: bool = True) -> None:
        super().__init__()
        if in_channels % deform_groups:
            raise ValueError(f"DeformConv2d: in_channels={in_channels} must be divisible by "
                             f"deform_groups={deform_groups}.")
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.padding, self.dilation, self.deform_groups = padding, dilation, deform_groups
        self.kernel_size = kernel_size
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    @property
    def offset_channels(self) -> int:
        """Channels of the ``offset`` input: ``2 * deform_groups * k * k``."""
        return 2 * self.deform_groups * self.kernel_size**2

    def forward(self, x: Tensor, offset: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        return deform_conv2d(x, offset, self.weight, self.bias, padding=self.padding, dilation=self.dilation,
                             mask=mask, deform_groups=self.deform_groups)

    def extra_repr(self) -> str:
        return (f"{self.weight.shape[1]}, {self.weight.shape[0]}, kernel_size={self.kernel_size}, "
                f"padding={self.padding}, dilation={self.dilation}, deform_groups={self.deform_groups}")
