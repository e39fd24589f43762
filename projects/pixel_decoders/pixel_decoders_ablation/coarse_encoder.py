"""A DETR transformer encoder on the coarsest map, as an option of the Table 4e decoders.

Mask2Former's code selects MaskFormer's ``TransformerEncoderPixelDecoder`` (the FPN whose 1/32 map first goes
through 6 DETR encoder layers) with the base config's encoder settings; the paper's FPN-family FLOPs
(Table 4e) fit decoders that carry this encoder (projects/pixel_decoders/README.md, "FLOPs"). Semantic FPN and
BiFPN take it as ``transformer_enc_layers`` (0 = none, their papers' form).
"""
from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from segformers.models.layers import PositionEmbeddingSine
from segformers.models.pixel_decoders.transformer_encoder import TransformerEncoderOnly


class CoarseEncoder(nn.Module):
    """DETR encoder with the sine position encoding of its input: ``[B, C, h, w] -> [B, C, h, w]``.

    Parameter names as the core ``TransformerEncoderPixelDecoder`` (``transformer.encoder.layers.{i}.*``).
    """

    def __init__(
        self, *, channels: int, num_layers: int, nheads: int = 8, dim_feedforward: int = 2048,
        dropout: float = 0.0, pre_norm: bool = False,
    ) -> None:
        super().__init__()
        if channels % nheads != 0:
            raise ValueError(f"CoarseEncoder: channels ({channels}) must be divisible by transformer_nheads ({nheads}).")
        self.transformer = TransformerEncoderOnly(
            d_model=channels, nhead=nheads, num_encoder_layers=num_layers, dim_feedforward=dim_feedforward,
            dropout=dropout, pre_norm=pre_norm,
        )
        self.pe_layer = PositionEmbeddingSine(channels // 2, normalize=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.transformer(x, self.pe_layer(x))


def build_coarse_encoder(
    owner: str, channels: int, num_layers: int, *, nheads: int, dim_feedforward: int, dropout: float,
) -> Optional[CoarseEncoder]:
    """``None`` for ``num_layers == 0``, else a :class:`CoarseEncoder`; a negative count is an error."""
    if num_layers < 0:
        raise ValueError(f"{owner}: transformer_enc_layers must be >= 0 (0 = no encoder), got {num_layers}.")
    if num_layers == 0:
        return None
    return CoarseEncoder(channels=channels, num_layers=num_layers, nheads=nheads, dim_feedforward=dim_feedforward,
                         dropout=dropout)
