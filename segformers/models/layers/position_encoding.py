"""Sine positional encoding of DETR, as used by both MaskFormer and Mask2Former."""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Optional

import torch
from torch import Tensor, nn

from .tracing import tracing

CACHED_SIZES = 16  # a few images' worth of feature levels


class PositionEmbeddingSine(nn.Module):
    """2-d sine/cosine encoding ``[B, C, H, W] -> [B, 2*num_pos_feats, H, W]`` (first half: y).

    With ``mask=None`` every pixel is valid and the encoding depends on ``(H, W)`` only: it is computed
    once per size, dtype and device (the ``CACHED_SIZES`` most recently used are kept) and copied out
    (not while ``torch.compile`` / ``torch.export`` trace or ``torch.jit.trace`` runs: a graph must compute
    it, so that the traced size stays dynamic);
    ``mask`` (``[B, H, W]``, True = padding) excludes pixels from the cumulative coordinates, as in DETR.
    """

    def __init__(
        self,
        num_pos_feats: int = 128,
        temperature: float = 10000.0,
        normalize: bool = True,
        scale: Optional[float] = None,
    ) -> None:
        super().__init__()
        if scale is not None and not normalize:
            raise ValueError("PositionEmbeddingSine: 'scale' requires normalize=True.")
        self.num_pos_feats = num_pos_feats
        self.temperature = temperature
        self.normalize = normalize
        self.scale = 2 * math.pi if scale is None else scale
        # (H, W, dtype, device) -> [1, C, H, W], the most recently used few: evaluation at many image
        # sizes must not keep one encoding per size alive
        self._unmasked: OrderedDict[tuple, Tensor] = OrderedDict()

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        if mask is not None:
            return self._encode(x, mask)
        if tracing():  # no cache keyed by symbolic sizes
            return self._encode(x[:1]).expand(x.shape[0], -1, -1, -1).clone()
        key = (*x.shape[-2:], x.dtype, x.device)
        if key in self._unmasked:
            self._unmasked.move_to_end(key)
        else:
            self._unmasked[key] = self._encode(x[:1])
            if len(self._unmasked) > CACHED_SIZES:
                self._unmasked.popitem(last=False)
        return self._unmasked[key].expand(x.shape[0], -1, -1, -1).clone()

    def _encode(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        b, _, h, w = x.shape
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        if mask is None:
            not_mask = torch.ones((b, h, w), device=x.device, dtype=dtype)
        else:
            not_mask = (~mask).to(dtype)
        y_embed = not_mask.cumsum(1)
        x_embed = not_mask.cumsum(2)
        if self.normalize:
            eps = 1e-6
            y_embed = y_embed / (y_embed[:, -1:, :] + eps) * self.scale
            x_embed = x_embed / (x_embed[:, :, -1:] + eps) * self.scale
        dim_t = torch.arange(self.num_pos_feats, dtype=torch.int64, device=x.device).to(dtype)
        dim_t = self.temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / self.num_pos_feats)
        pos_x = x_embed[:, :, :, None] / dim_t
        pos_y = y_embed[:, :, :, None] / dim_t
        pos_x = torch.stack((pos_x[..., 0::2].sin(), pos_x[..., 1::2].cos()), dim=4).flatten(3)
        pos_y = torch.stack((pos_y[..., 0::2].sin(), pos_y[..., 1::2].cos()), dim=4).flatten(3)
        return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2).to(x.dtype)
