"""FaPN, the feature-aligned pyramid network (Huang et al., ICCV 2021), as a pixel decoder (Mask2Former Table 4e).

Top-down like FPN, with two modules: a feature selection module (FSM) on every lateral, and a feature
alignment module (FAM) that warps the upsampled coarser map onto the lateral with a deformable conv whose
offsets are predicted from both.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segformers.models.layers import Conv2dNormAct, c2_xavier_fill
from segformers.models.layers.fpn import (
    DEFAULT_IN_FEATURES, check_num_levels, conv3x3, fpn_output_shape, lateral1x1, sorted_in_features,
)
from segformers.registry import PIXEL_DECODERS
from segformers.structures import PixelDecoderOutput, ShapeSpec, SpecEntry

from .deform_conv import DeformConv2d


class FeatureSelection(nn.Module):
    """FSM: ``x * (1 + sigmoid(conv1x1(avgpool(x))))`` (channel attention, residual), then a 1x1 conv + norm
    to ``out_channels``: ``[B, C_in, h, w] -> [B, C_out, h, w]``."""

    def __init__(self, in_channels: int, out_channels: int, norm: str) -> None:
        super().__init__()
        self.attention = nn.Conv2d(in_channels, in_channels, 1)
        c2_xavier_fill(self.attention)
        self.project = lateral1x1(in_channels, out_channels, norm)

    def forward(self, x: Tensor) -> Tensor:
        weight = self.attention(F.adaptive_avg_pool2d(x, 1)).sigmoid()  # [B, C_in, 1, 1]
        return self.project(x + x * weight)


class FeatureAlignment(nn.Module):
    """FAM: ``lateral + ReLU(DCNv2(up(top), offsets, mask))`` with ``offsets, mask = conv1x1([lateral, up(top)])``.

    ``forward(lateral [B, C, h, w], top [B, C, h', w'])`` -> ``[B, C, h, w]``; ``up`` is bilinear. The offset
    conv starts at zero: the module begins as a plain 3x3 conv with modulation 0.5.
    """

    def __init__(self, channels: int, *, deform_groups: int = 8, kernel_size: int = 3) -> None:
        super().__init__()
        self.deform = DeformConv2d(channels, channels, kernel_size, padding=kernel_size // 2,
                                   deform_groups=deform_groups)
        self.num_offsets = self.deform.offset_channels
        self.offset = nn.Conv2d(2 * channels, self.num_offsets + self.num_offsets // 2, 1)
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)

    def forward(self, lateral: Tensor, top: Tensor) -> Tensor:
        up = F.interpolate(top, size=lateral.shape[-2:], mode="bilinear", align_corners=False)
        predicted = self.offset(torch.cat([lateral, up], dim=1))
        offsets, mask = predicted[:, : self.num_offsets], predicted[:, self.num_offsets:].sigmoid()
        return lateral + F.relu(self.deform(up, offsets, mask))


@PIXEL_DECODERS.register_module()
class FaPNPixelDecoder(nn.Module):
    """FaPN top-down pyramid: ``{res2..res5} -> PixelDecoderOutput``.

    Per level (coarsest first): ``p = FSM(c)`` (coarsest) or ``p = FAM(FSM(c), y_coarser)``, then
    ``y = conv3x3(p)``. Returns ``mask_features [B, mask_dim, H/4, W/4]`` (3x3 conv on the finest ``y``),
    ``multi_scale_features`` = the first ``num_multi_scale_levels`` maps ``y`` (1/32, 1/16, 1/8), each
    ``[B, conv_dim, h, w]``, and no encoder features.

    Args: ``input_shape`` (injected), ``in_features``, ``conv_dim``, ``mask_dim``, ``norm`` (of the FSM
    projections and the 3x3 convs), ``num_multi_scale_levels``, ``deform_groups`` (offset groups of the
    deformable convs; FaPN uses 8; must divide ``conv_dim``).
    """

    tiny_config = dict(conv_dim=32, mask_dim=16, deform_groups=4)

    def __init__(
        self, *, input_shape: Mapping[str, ShapeSpec], in_features: Sequence[str] = DEFAULT_IN_FEATURES,
        conv_dim: int = 256, mask_dim: int = 256, norm: str = "GN", num_multi_scale_levels: int = 3,
        deform_groups: int = 8,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.in_features = sorted_in_features(name, input_shape, in_features)[::-1]  # low -> high resolution
        check_num_levels(name, num_multi_scale_levels, len(self.in_features))
        if conv_dim % deform_groups:
            raise ValueError(f"{name}: deform_groups={deform_groups} must divide conv_dim={conv_dim}.")
        self.select = nn.ModuleList(FeatureSelection(input_shape[f].channels, conv_dim, norm)
                                    for f in self.in_features)
        self.align = nn.ModuleList(FeatureAlignment(conv_dim, deform_groups=deform_groups)
                                   for _ in self.in_features[1:])
        self.output_convs = nn.ModuleList(conv3x3(conv_dim, conv_dim, norm) for _ in self.in_features)
        self.mask_features = Conv2dNormAct(conv_dim, mask_dim, 3, padding=1)
        c2_xavier_fill(self.mask_features)
        self.num_multi_scale_levels = num_multi_scale_levels
        strides = [input_shape[f].stride for f in self.in_features]
        self._shape_args = (mask_dim, conv_dim, strides, num_multi_scale_levels)

    def output_shape(self) -> dict[str, SpecEntry]:
        """``mask_features`` at the finest input stride, the first ``num_multi_scale_levels`` maps."""
        return fpn_output_shape(*self._shape_args)

    def forward(self, features: dict[str, Tensor]) -> PixelDecoderOutput:
        outs: list[Tensor] = []
        for i, f in enumerate(self.in_features):
            p = self.select[i](features[f])
            if outs:
                p = self.align[i - 1](p, outs[-1])
            outs.append(self.output_convs[i](p))
        return PixelDecoderOutput(
            mask_features=self.mask_features(outs[-1]),
            multi_scale_features=outs[: self.num_multi_scale_levels],
            encoder_features=None,
        )
