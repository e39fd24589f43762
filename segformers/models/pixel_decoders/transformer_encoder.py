"""MaskFormer's FPN with a DETR transformer encoder on res5 (official ``TransformerEncoderPixelDecoder``).

Composition, not inheritance: the decoder owns ``input_proj`` + ``transformer`` (a DETR encoder) and
the same FPN parts as :class:`FPNPixelDecoder`, built and run by the shared helpers of ``layers/fpn.py``. The
FPN cannot be a child module because the official (and our) state-dict names are flat
(``adapter_1.weight``, ``layer_4.norm.weight``, ``transformer.encoder.layers.0.linear1.weight``).
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

from torch import Tensor, nn

from segformers.models.layers import Conv2dNormAct, PositionEmbeddingSine, c2_xavier_fill
from segformers.models.layers.fpn import (
    DEFAULT_IN_FEATURES, build_laterals, check_num_levels, conv3x3, fpn_output_shape, sorted_in_features, top_down,
)
from segformers.models.layers.transformer import DetrEncoder, DetrEncoderLayer
from segformers.registry import PIXEL_DECODERS
from segformers.structures import PixelDecoderOutput, ShapeSpec, SpecEntry

__all__ = ["TransformerEncoderPixelDecoder", "TransformerEncoderOnly", "DetrEncoder", "DetrEncoderLayer"]


class TransformerEncoderOnly(nn.Module):
    """DETR encoder on a feature map: ``src, pos [B, C, h, w] -> [B, C, h, w]``; >1-D params xavier-uniform."""

    def __init__(
        self, *, d_model: int = 256, nhead: int = 8, num_encoder_layers: int = 6, dim_feedforward: int = 2048,
        dropout: float = 0.1, pre_norm: bool = False,
    ) -> None:
        super().__init__()
        self.encoder = DetrEncoder(
            num_layers=num_encoder_layers, pre_norm=pre_norm, d_model=d_model, nhead=nhead,
            dim_feedforward=dim_feedforward, dropout=dropout,
        )
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, src: Tensor, pos: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        b, c, h, w = src.shape
        seq = self.encoder(
            src.flatten(2).transpose(1, 2), pos.flatten(2).transpose(1, 2),
            None if mask is None else mask.flatten(1),
        )
        return seq.transpose(1, 2).reshape(b, c, h, w)


@PIXEL_DECODERS.register_module()
class TransformerEncoderPixelDecoder(nn.Module):
    """FPN whose coarsest level first goes through a DETR encoder (MaskFormer's COCO/ADE panoptic R50/R101).

    ``res5 -> input_proj (1x1) -> transformer (+ sine PE of res5) -> encoder_features [B, conv_dim, h5, w5]
    -> layer_{n} (3x3, norm, ReLU) -> top-down FPN``. Returns ``mask_features [B, mask_dim, H/4, W/4]``,
    ``multi_scale_features`` (first ``num_multi_scale_levels`` FPN maps, 1/32 first) and ``encoder_features``.
    """

    # a small instance for the contract test (segformers.testing)
    tiny_config = dict(conv_dim=32, mask_dim=16, transformer_enc_layers=1, transformer_dim_feedforward=32)

    def __init__(
        self,
        *,
        input_shape: Mapping[str, ShapeSpec],
        in_features: Sequence[str] = DEFAULT_IN_FEATURES,
        conv_dim: int = 256,
        mask_dim: int = 256,
        norm: str = "GN",
        transformer_dropout: float = 0.1,
        transformer_nheads: int = 8,
        transformer_dim_feedforward: int = 2048,
        transformer_enc_layers: int = 6,
        transformer_pre_norm: bool = False,
        num_multi_scale_levels: int = 3,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.in_features = sorted_in_features(name, input_shape, in_features)
        check_num_levels(name, num_multi_scale_levels, len(self.in_features))
        channels = [input_shape[f].channels for f in self.in_features]
        self.lateral_convs, self.output_convs = build_laterals(
            self, channels[:-1], conv_dim=conv_dim, norm=norm
        )
        self.add_module(f"layer_{len(channels)}", conv3x3(conv_dim, conv_dim, norm))
        self.mask_features = Conv2dNormAct(conv_dim, mask_dim, 3, padding=1)
        c2_xavier_fill(self.mask_features)
        self.input_proj = Conv2dNormAct(channels[-1], conv_dim, 1)
        c2_xavier_fill(self.input_proj)
        self.transformer = TransformerEncoderOnly(
            d_model=conv_dim, nhead=transformer_nheads, num_encoder_layers=transformer_enc_layers,
            dim_feedforward=transformer_dim_feedforward, dropout=transformer_dropout,
            pre_norm=transformer_pre_norm,
        )
        self.pe_layer = PositionEmbeddingSine(conv_dim // 2, normalize=True)
        self.num_multi_scale_levels = num_multi_scale_levels
        strides = [input_shape[f].stride for f in self.in_features[::-1]]  # low -> high resolution
        self._shape_args = (mask_dim, conv_dim, strides, num_multi_scale_levels, strides[0])

    def output_shape(self) -> dict[str, SpecEntry]:
        """FPN outputs as :class:`FPNPixelDecoder`, plus ``encoder`` at the coarsest input's stride."""
        return fpn_output_shape(*self._shape_args)

    def forward(self, features: dict[str, Tensor]) -> PixelDecoderOutput:
        x = features[self.in_features[-1]]
        encoded = self.transformer(self.input_proj(x), self.pe_layer(x))
        top = getattr(self, f"layer_{len(self.in_features)}")(encoded)
        laterals = [features[f] for f in self.in_features[-2::-1]]
        outs = top_down(top, laterals, self.lateral_convs, self.output_convs)
        return PixelDecoderOutput(
            mask_features=self.mask_features(outs[-1]),
            multi_scale_features=outs[: self.num_multi_scale_levels],
            encoder_features=encoded,
        )
