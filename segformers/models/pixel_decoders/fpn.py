"""The FPN pixel decoder of MaskFormer (official ``BasePixelDecoder``); its blocks are in ``layers/fpn.py``.

State-dict names follow the official code: the coarsest level's 3x3 conv is ``layer_{n}`` (``layer_4``
for res2..res5), the laterals are ``adapter_{i}`` / ``layer_{i}`` (``i = 1`` for res2), and the
per-pixel embedding is ``mask_features``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from torch import Tensor, nn

from segformers.models.layers import Conv2dNormAct, c2_xavier_fill
from segformers.models.layers.fpn import (
    DEFAULT_IN_FEATURES, build_laterals, check_num_levels, conv3x3, fpn_output_shape, sorted_in_features, top_down,
)
from segformers.registry import PIXEL_DECODERS
from segformers.structures import PixelDecoderOutput, ShapeSpec, SpecEntry


@PIXEL_DECODERS.register_module()
class FPNPixelDecoder(nn.Module):
    """Top-down FPN (official ``BasePixelDecoder``): backbone features -> per-pixel embeddings.

    ``forward({res2..res5}) -> PixelDecoderOutput`` with ``mask_features [B, mask_dim, H/4, W/4]`` (3x3
    conv on the finest FPN map), ``multi_scale_features`` = the first ``num_multi_scale_levels`` FPN maps
    (1/32, 1/16, 1/8), each ``[B, conv_dim, h, w]``, and no encoder features. Upsampling is nearest.
    """

    def __init__(
        self,
        *,
        input_shape: Mapping[str, ShapeSpec],
        in_features: Sequence[str] = DEFAULT_IN_FEATURES,
        conv_dim: int = 256,
        mask_dim: int = 256,
        norm: str = "GN",
        num_multi_scale_levels: int = 3,
    ) -> None:
        super().__init__()
        self.in_features = sorted_in_features(type(self).__name__, input_shape, in_features)
        check_num_levels(type(self).__name__, num_multi_scale_levels, len(self.in_features))
        channels = [input_shape[f].channels for f in self.in_features]
        self.lateral_convs, self.output_convs = build_laterals(
            self, channels[:-1], conv_dim=conv_dim, norm=norm
        )
        self.add_module(f"layer_{len(channels)}", conv3x3(channels[-1], conv_dim, norm))
        self.mask_features = Conv2dNormAct(conv_dim, mask_dim, 3, padding=1)
        c2_xavier_fill(self.mask_features)
        self.num_multi_scale_levels = num_multi_scale_levels
        strides = [input_shape[f].stride for f in self.in_features[::-1]]  # low -> high resolution
        self._shape_args = (mask_dim, conv_dim, strides, num_multi_scale_levels)

    def output_shape(self) -> dict[str, SpecEntry]:
        """``mask_features`` (stride of the finest input), the first ``num_multi_scale_levels`` FPN maps."""
        return fpn_output_shape(*self._shape_args)

    def forward(self, features: dict[str, Tensor]) -> PixelDecoderOutput:
        top = getattr(self, f"layer_{len(self.in_features)}")(features[self.in_features[-1]])
        laterals = [features[f] for f in self.in_features[-2::-1]]
        outs = top_down(top, laterals, self.lateral_convs, self.output_convs)
        return PixelDecoderOutput(
            mask_features=self.mask_features(outs[-1]),
            multi_scale_features=outs[: self.num_multi_scale_levels],
            encoder_features=None,
        )
