"""MaskFormer's FPN with a DETR transformer encoder on res5 (official ``TransformerEncoderPixelDecoder``).

Composition, not inheritance: the decoder owns ``input_proj`` + ``transformer`` (a DETR encoder) and
the same FPN parts as :class:`FPNPixelDecoder`, built and run by the shared helpers of ``fpn.py``. The
FPN cannot be a child module because the official (and our) state-dict names are flat
(``adapter_1.weight``, ``layer_4.norm.weight``, ``transformer.encoder.layers.0.linear1.weight``).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from segformers.models.layers import Conv2dNormAct, PositionEmbeddingSine, c2_xavier_fill
from segformers.registry import PIXEL_DECODERS
from segformers.structures import PixelDecoderOutput

from .fpn import DEFAULT_IN_FEATURES, build_laterals, check_num_levels, conv3x3, sorted_in_features, top_down


class DetrEncoderLayer(nn.Module):
    """DETR encoder layer ``[B, S, C] -> [B, S, C]``: self-attention with ``q = k = src + pos``, then FFN.

    Post-norm (``LN(x + f(x))``, the MaskFormer default) or pre-norm (``x + f(LN(x))``). Names:
    ``self_attn.{in_proj_weight,in_proj_bias,out_proj}``, ``linear1``, ``linear2``, ``norm1``, ``norm2``.
    """

    def __init__(
        self, *, d_model: int = 256, nhead: int = 8, dim_feedforward: int = 2048, dropout: float = 0.1,
        pre_norm: bool = False,
    ) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.pre_norm = pre_norm

    def _attend(self, x: Tensor, pos: Tensor, key_padding_mask: Optional[Tensor]) -> Tensor:
        q = x + pos
        return self.self_attn(q, q, x, key_padding_mask=key_padding_mask, need_weights=False)[0]

    def _ffn(self, x: Tensor) -> Tensor:
        return self.linear2(self.dropout(F.relu(self.linear1(x))))

    def forward(self, src: Tensor, pos: Tensor, key_padding_mask: Optional[Tensor] = None) -> Tensor:
        if self.pre_norm:
            src = src + self.dropout1(self._attend(self.norm1(src), pos, key_padding_mask))
            return src + self.dropout2(self._ffn(self.norm2(src)))
        src = self.norm1(src + self.dropout1(self._attend(src, pos, key_padding_mask)))
        return self.norm2(src + self.dropout2(self._ffn(src)))


class DetrEncoder(nn.Module):
    """A stack of :class:`DetrEncoderLayer` (``layers.{n}``) with a final ``norm`` only when pre-norm."""

    def __init__(self, *, num_layers: int, pre_norm: bool, d_model: int, **layer_kwargs) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            DetrEncoderLayer(d_model=d_model, pre_norm=pre_norm, **layer_kwargs) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model) if pre_norm else None

    def forward(self, src: Tensor, pos: Tensor, key_padding_mask: Optional[Tensor] = None) -> Tensor:
        for layer in self.layers:
            src = layer(src, pos, key_padding_mask)
        return src if self.norm is None else self.norm(src)


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

    def __init__(
        self,
        *,
        in_channels: dict[str, int],
        in_strides: dict[str, int],
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
        self.in_features = sorted_in_features(name, in_channels, in_strides, in_features)
        check_num_levels(name, num_multi_scale_levels, len(self.in_features))
        channels = [in_channels[f] for f in self.in_features]
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
        self.mask_dim = mask_dim
        self.multi_scale_channels = conv_dim
        self.num_multi_scale_levels = num_multi_scale_levels
        self.encoder_channels: Optional[int] = conv_dim

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
