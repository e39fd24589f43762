"""A lighter FPN pixel decoder: depthwise-separable 3x3 output convs and bilinear top-down upsampling."""
from __future__ import annotations

from typing import Optional, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from segformers.models.layers import Conv2dNormAct, c2_xavier_fill
from segformers.registry import PIXEL_DECODERS
from segformers.structures import PixelDecoderOutput


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
        in_channels / in_strides: injected by the segmentor (the backbone's outputs).
        conv_dim: FPN width; mask_dim: channels of ``mask_features``; norm: norm name.
        in_features: backbone maps to use, e.g. ``["res2", "res3", "res4", "res5"]``.

    Returns ``PixelDecoderOutput`` with ``mask_features [B, mask_dim, H/4, W/4]`` and the three
    coarsest FPN maps (1/32, 1/16, 1/8) as ``multi_scale_features``.
    """

    def __init__(
        self,
        *,
        in_channels: dict[str, int],
        in_strides: dict[str, int],
        conv_dim: int = 256,
        mask_dim: int = 256,
        norm: str = "GN",
        in_features: Optional[Sequence[str]] = None,
    ) -> None:
        super().__init__()
        names = list(in_features or sorted(in_channels, key=lambda n: in_strides[n]))
        missing = [n for n in names if n not in in_channels]
        if missing:
            raise ValueError(f"LiteFPNPixelDecoder: backbone has no {missing}; it provides {sorted(in_channels)}.")
        self.in_features = sorted(names, key=lambda n: in_strides[n])
        self.lateral = nn.ModuleList(Conv2dNormAct(in_channels[n], conv_dim, 1, norm=norm) for n in self.in_features)
        self.output = nn.ModuleList(SeparableConv(conv_dim, norm) for _ in self.in_features)
        self.mask_features = nn.Conv2d(conv_dim, mask_dim, 3, padding=1)
        for m in [*self.lateral, self.mask_features]:
            c2_xavier_fill(m)
        self.mask_dim = mask_dim
        self.multi_scale_channels = conv_dim
        self.num_multi_scale_levels = min(3, len(self.in_features))
        self.encoder_channels = None

    def forward(self, features: dict[str, Tensor]) -> PixelDecoderOutput:
        y: Optional[Tensor] = None
        outs = []
        for i in reversed(range(len(self.in_features))):
            x = self.lateral[i](features[self.in_features[i]])
            if y is not None:
                x = x + F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
            y = self.output[i](x)
            outs.append(y)
        return PixelDecoderOutput(
            mask_features=self.mask_features(y),
            multi_scale_features=outs[: self.num_multi_scale_levels],
        )
