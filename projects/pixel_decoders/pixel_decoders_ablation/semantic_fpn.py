"""Panoptic FPN's semantic head as a pixel decoder (Kirillov et al., CVPR 2019), Mask2Former Table 4e."""
from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from segformers.models.layers import Conv2dNormAct, c2_xavier_fill
from segformers.models.layers.fpn import DEFAULT_IN_FEATURES, conv3x3, top_down
from segformers.models.pixel_decoders import FPNPixelDecoder
from segformers.registry import PIXEL_DECODERS
from segformers.structures import PixelDecoderOutput, ShapeSpec

from .coarse_encoder import build_coarse_encoder


class UpsampleStages(nn.Module):
    """``n`` stages of ``conv3x3 -> norm -> ReLU`` (each but the last, or every one if ``upsample_last``,
    followed by 2x bilinear upsampling): ``[B, C_in, h, w] -> [B, C_out, h * 2^n, w * 2^n]`` (sizes given)."""

    def __init__(self, in_channels: int, out_channels: int, num_upsamples: int, norm: str) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            conv3x3(in_channels if i == 0 else out_channels, out_channels, norm) for i in range(max(num_upsamples, 1))
        )
        self.num_upsamples = num_upsamples

    def forward(self, x: Tensor, sizes: Sequence[tuple[int, int]]) -> Tensor:
        """``sizes``: the ``num_upsamples`` sizes to reach, each twice the previous (the last = 1/4)."""
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < self.num_upsamples:
                x = F.interpolate(x, size=sizes[i], mode="bilinear", align_corners=False)
        return x


@PIXEL_DECODERS.register_module()
class SemanticFPNPixelDecoder(FPNPixelDecoder):
    """FPN, then Panoptic FPN's semantic head: each FPN level goes through ``log2(stride / finest stride)``
    (at least one) ``conv3x3-norm-ReLU`` stages, each followed by a 2x bilinear upsample, to the finest
    stride; the per-level results are summed and a 3x3 conv makes the mask features.

    ``forward({res2..res5}) -> PixelDecoderOutput``: ``mask_features [B, mask_dim, H/4, W/4]``,
    ``multi_scale_features`` = the first ``num_multi_scale_levels`` FPN maps (1/32, 1/16, 1/8), each
    ``[B, conv_dim, h, w]``; encoder features only with the encoder option (below). The FPN part is the core :class:`FPNPixelDecoder`
    (same state-dict names); the head is ``semantic_head.{level}.convs.{stage}`` (level 0 = coarsest).

    Args: as :class:`FPNPixelDecoder`, plus ``head_dim`` (channels of the head; default ``conv_dim``) and
    ``transformer_enc_layers`` (default 0): above 0, the coarsest input first goes through a 1x1 ``input_proj``
    and that many DETR encoder layers (``transformer_nheads``, ``transformer_dim_feedforward``,
    ``transformer_dropout``), as in the core ``TransformerEncoderPixelDecoder``; its 3x3 ``layer_{n}`` then
    reads ``conv_dim`` channels and the encoder's output is ``encoder_features``.
    """

    tiny_config = dict(conv_dim=32, mask_dim=16, head_dim=32)

    def __init__(
        self, *, input_shape: Mapping[str, ShapeSpec], in_features: Sequence[str] = DEFAULT_IN_FEATURES,
        conv_dim: int = 256, mask_dim: int = 256, norm: str = "GN", num_multi_scale_levels: int = 3,
        head_dim: Optional[int] = None, transformer_enc_layers: int = 0, transformer_nheads: int = 8,
        transformer_dim_feedforward: int = 2048, transformer_dropout: float = 0.0,
    ) -> None:
        super().__init__(input_shape=input_shape, in_features=in_features, conv_dim=conv_dim, mask_dim=mask_dim,
                         norm=norm, num_multi_scale_levels=num_multi_scale_levels)
        self.encoder = build_coarse_encoder(
            type(self).__name__, conv_dim, transformer_enc_layers, nheads=transformer_nheads,
            dim_feedforward=transformer_dim_feedforward, dropout=transformer_dropout,
        )
        if self.encoder is not None:
            self.input_proj = Conv2dNormAct(input_shape[self.in_features[-1]].channels, conv_dim, 1)
            c2_xavier_fill(self.input_proj)
            self.add_module(f"layer_{len(self.in_features)}", conv3x3(conv_dim, conv_dim, norm))
            self._shape_args = (*self._shape_args, self._shape_args[2][0])  # + "encoder" at the coarsest stride
        head_dim = conv_dim if head_dim is None else head_dim
        strides = [input_shape[f].stride for f in self.in_features[::-1]]  # low -> high resolution
        self.semantic_head = nn.ModuleList(
            UpsampleStages(conv_dim, head_dim, round(math.log2(s / strides[-1])), norm) for s in strides
        )
        self.mask_features = Conv2dNormAct(head_dim, mask_dim, 3, padding=1)
        c2_xavier_fill(self.mask_features)

    def forward(self, features: dict[str, Tensor]) -> PixelDecoderOutput:
        coarsest = features[self.in_features[-1]]
        encoded = None if self.encoder is None else self.encoder(self.input_proj(coarsest))
        top = getattr(self, f"layer_{len(self.in_features)}")(coarsest if encoded is None else encoded)
        laterals = [features[f] for f in self.in_features[-2::-1]]
        outs = top_down(top, laterals, self.lateral_convs, self.output_convs)  # low -> high resolution
        sizes = [tuple(o.shape[-2:]) for o in outs]
        summed = sum(head(o, sizes[i + 1:]) for i, (head, o) in enumerate(zip(self.semantic_head, outs)))
        return PixelDecoderOutput(
            mask_features=self.mask_features(summed),
            multi_scale_features=outs[: self.num_multi_scale_levels],
            encoder_features=encoded,
        )
