"""A lighter FPN pixel decoder: depthwise-separable 3x3 output convs and bilinear top-down upsampling."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from segformers.models.layers import Conv2dNormAct, c2_xavier_fill
from segformers.models.layers.fpn import fpn_output_shape, sorted_in_features, top_down
from segformers.registry import PIXEL_DECODERS
from segformers.structures import PixelDecoderOutput, ShapeSpec, SpecEntry


class SeparableConv(nn.Sequential):
    """Depthwise 3x3 then pointwise 1x1 (+ norm + ReLU): ``[B, C, H, W] -> [B, C, H, W]``."""

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__(
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
            Conv2dNormAct(channels, channels, 1, norm=norm, activation=F.relu),
        )


@PIXEL_DECODERS.register_module()
class LiteFPNPixelDecoder(nn.Module):
    """Top-down FPN over ``in_features`` (high -> low stride) with separable output convs.

    Args:
        input_shape: injected by the segmentor (the backbone's ``output_shape()``).
        conv_dim: FPN width; mask_dim: channels of ``mask_features``; norm: norm name.
        in_features: backbone maps to use, e.g. ``["res2", "res3", "res4", "res5"]`` (default: all).

    Returns ``PixelDecoderOutput`` with ``mask_features [B, mask_dim, H/4, W/4]`` and the three
    coarsest FPN maps (1/32, 1/16, 1/8) as ``multi_scale_features``, as ``output_shape()`` declares.
    """

    def __init__(
        self,
        *,
        input_shape: Mapping[str, ShapeSpec],
        conv_dim: int = 256,
        mask_dim: int = 256,
        norm: str = "GN",
        in_features: Optional[Sequence[str]] = None,
    ) -> None:
        super().__init__()
        self.in_features = sorted_in_features(type(self).__name__, input_shape, list(in_features or input_shape))
        self.lateral = nn.ModuleList(
            Conv2dNormAct(input_shape[n].channels, conv_dim, 1, norm=norm) for n in self.in_features)
        self.output = nn.ModuleList(SeparableConv(conv_dim, norm) for _ in self.in_features)
        self.mask_features = nn.Conv2d(conv_dim, mask_dim, 3, padding=1)
        for m in [*self.lateral, self.mask_features]:
            c2_xavier_fill(m)
        self.num_multi_scale_levels = min(3, len(self.in_features))
        strides = [input_shape[n].stride for n in self.in_features[::-1]]  # low -> high resolution
        self._shape_args = (mask_dim, conv_dim, strides, self.num_multi_scale_levels)

    def output_shape(self) -> dict[str, SpecEntry]:
        return fpn_output_shape(*self._shape_args)

    def forward(self, features: dict[str, Tensor]) -> PixelDecoderOutput:
        top = self.output[-1](self.lateral[-1](features[self.in_features[-1]]))
        laterals = [features[n] for n in self.in_features[-2::-1]]
        outs = top_down(top, laterals, self.lateral[-2::-1], self.output[-2::-1], mode="bilinear")
        return PixelDecoderOutput(
            mask_features=self.mask_features(outs[-1]),
            multi_scale_features=outs[: self.num_multi_scale_levels],
        )
