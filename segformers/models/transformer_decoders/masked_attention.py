"""Mask2Former's multi-scale masked-attention transformer decoder (official
``MultiScaleMaskedTransformerDecoder``), with the official state-dict names:
``transformer_{self,cross}_attention_layers.{i}.{self_attn,multihead_attn}.{in_proj_weight,in_proj_bias,out_proj}``,
``.norm``, ``transformer_ffn_layers.{i}.{linear1,linear2,norm}``, ``decoder_norm``, ``query_feat``,
``query_embed``, ``level_embed``, ``class_embed``, ``mask_embed.layers.{i}`` and ``input_proj.{i}`` when projecting.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segformers.registry import TRANSFORMER_DECODERS
from segformers.structures import DecoderOutput

from ..layers import MLP, PositionEmbeddingSine, c2_xavier_fill
from ..layers.attention import MultiheadAttention
from .detr import check_decoder_inputs


def _xavier_(module: nn.Module) -> None:
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)


class SelfAttentionLayer(nn.Module):
    """Query self-attention on ``[B, Q, C]``; ``query_pos`` added to queries and keys; post- or pre-norm."""

    def __init__(self, *, d_model: int, nhead: int, dropout: float = 0.0, pre_norm: bool = False) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout)
        self.norm = nn.LayerNorm(d_model)
        self.dropout, self.pre_norm = dropout, pre_norm
        _xavier_(self)

    def forward(self, tgt: Tensor, query_pos: Tensor) -> Tensor:
        x = self.norm(tgt) if self.pre_norm else tgt
        q = x + query_pos
        tgt = tgt + F.dropout(self.self_attn(q, q, x), self.dropout, self.training)
        return tgt if self.pre_norm else self.norm(tgt)


class CrossAttentionLayer(nn.Module):
    """Masked cross-attention of ``[B, Q, C]`` queries to ``[B, HW, C]`` memory.

    ``attn_mask`` ``[B, 1, Q, HW]`` bool, ``True`` = may attend; ``pos`` is added to the keys only.
    """

    def __init__(self, *, d_model: int, nhead: int, dropout: float = 0.0, pre_norm: bool = False) -> None:
        super().__init__()
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout)
        self.norm = nn.LayerNorm(d_model)
        self.dropout, self.pre_norm = dropout, pre_norm
        _xavier_(self)

    def forward(
        self, tgt: Tensor, memory: Tensor, attn_mask: Optional[Tensor], pos: Tensor, query_pos: Tensor
    ) -> Tensor:
        x = self.norm(tgt) if self.pre_norm else tgt
        out = self.multihead_attn(x + query_pos, memory + pos, memory, attn_mask=attn_mask)
        tgt = tgt + F.dropout(out, self.dropout, self.training)
        return tgt if self.pre_norm else self.norm(tgt)


class FFNLayer(nn.Module):
    """``Linear -> ReLU -> Linear`` on ``[B, Q, C]`` with a residual; post- or pre-norm."""

    def __init__(self, *, d_model: int, dim_feedforward: int, dropout: float = 0.0, pre_norm: bool = False) -> None:
        super().__init__()
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.dropout, self.pre_norm = dropout, pre_norm
        _xavier_(self)

    def forward(self, tgt: Tensor) -> Tensor:
        x = self.norm(tgt) if self.pre_norm else tgt
        x = self.linear2(F.dropout(F.relu(self.linear1(x)), self.dropout, self.training))
        tgt = tgt + F.dropout(x, self.dropout, self.training)
        return tgt if self.pre_norm else self.norm(tgt)


def masked_attention_mask(mask_logits: Tensor, size: Sequence[int]) -> Tensor:
    """Where each query may attend at the next level: ``[B, Q, H/4, W/4]`` logits -> bool ``[B, 1, Q, h*w]``.

    Bilinear resize to ``size``, ``sigmoid < 0.5`` is blocked, detached; a query whose mask is empty at this
    level (every location blocked) attends everywhere instead (the official fallback, which avoids NaN).
    """
    resized = F.interpolate(mask_logits.detach(), size=tuple(size), mode="bilinear", align_corners=False)
    allowed = ~(resized.sigmoid().flatten(2) < 0.5)
    allowed = allowed | ~allowed.any(dim=-1, keepdim=True)
    return allowed.unsqueeze(1)


@TRANSFORMER_DECODERS.register_module()
class MultiScaleMaskedTransformerDecoder(nn.Module):
    """Mask2Former's decoder: learnable queries attend round robin to ``num_feature_levels`` maps, each
    restricted to the foreground of the previous prediction (masked attention).

    ``forward(features [num_feature_levels x [B, in_channels, h_l, w_l]] low -> high resolution,
    mask_features [B, mask_dim, H/4, W/4])`` returns a :class:`DecoderOutput` with ``dec_layers + 1``
    predictions (class ``[B, Q, num_classes + 1]``, mask ``[B, Q, H/4, W/4]``): the first from the learnable
    query features, then one per layer; the last is the final prediction.

    **Layer count convention**: ``dec_layers`` is the number of attention layers (official / Hugging Face
    ``DEC_LAYERS = decoder_layers = 10`` builds 9 layers, i.e. ``dec_layers=9`` here, the default, giving
    10 predictions). A layer is masked cross-attention -> self-attention -> FFN. ``num_classes``,
    ``in_channels`` and ``mask_dim`` are injected by the segmentor.

    Args:
        in_feature: what the decoder reads (``"multi_scale"``: the pixel decoder's multi-scale maps).
        num_feature_levels: number of maps (one ``level_embed`` row and ``input_proj`` entry each).
        hidden_dim, num_queries, nheads, dim_feedforward: transformer sizes.
        dec_layers: number of attention layers (see above).
        pre_norm: pre-LayerNorm sub-layers (official default post-norm).
        enforce_input_project: use 1x1 ``input_proj`` convs even if ``in_channels == hidden_dim``.
        dropout: sub-layer dropout; the official decoder hard-codes 0.
        mask_embed_layers: depth of the ``mask_embed`` MLP.
    """

    def __init__(
        self, *, num_classes: int, in_channels: int, mask_dim: int, in_feature: str = "multi_scale",
        num_feature_levels: int = 3, hidden_dim: int = 256, num_queries: int = 100, nheads: int = 8,
        dim_feedforward: int = 2048, dec_layers: int = 9, pre_norm: bool = False,
        enforce_input_project: bool = False, dropout: float = 0.0, mask_embed_layers: int = 3,
    ) -> None:
        super().__init__()
        if dec_layers < 1 or num_feature_levels < 1:
            raise ValueError(
                "MultiScaleMaskedTransformerDecoder: dec_layers and num_feature_levels must be >= 1, got "
                f"{dec_layers} and {num_feature_levels} (dec_layers counts attention layers: official 10 -> 9)."
            )
        self.in_feature, self.in_channels, self.mask_dim = in_feature, in_channels, mask_dim
        self.num_classes, self.num_queries, self.num_heads = num_classes, num_queries, nheads
        self.num_feature_levels, self.num_layers = num_feature_levels, dec_layers
        self.pe_layer = PositionEmbeddingSine(hidden_dim // 2, normalize=True)
        sub = dict(d_model=hidden_dim, dropout=dropout, pre_norm=pre_norm)
        self.transformer_self_attention_layers = nn.ModuleList(
            SelfAttentionLayer(nhead=nheads, **sub) for _ in range(dec_layers))
        self.transformer_cross_attention_layers = nn.ModuleList(
            CrossAttentionLayer(nhead=nheads, **sub) for _ in range(dec_layers))
        self.transformer_ffn_layers = nn.ModuleList(
            FFNLayer(dim_feedforward=dim_feedforward, **sub) for _ in range(dec_layers))
        self.decoder_norm = nn.LayerNorm(hidden_dim)
        self.query_feat = nn.Embedding(num_queries, hidden_dim)
        self.query_embed = nn.Embedding(num_queries, hidden_dim)
        self.level_embed = nn.Embedding(num_feature_levels, hidden_dim)
        self.input_proj = nn.ModuleList()
        for _ in range(num_feature_levels):
            if in_channels != hidden_dim or enforce_input_project:
                self.input_proj.append(nn.Conv2d(in_channels, hidden_dim, kernel_size=1))
                c2_xavier_fill(self.input_proj[-1])
            else:
                self.input_proj.append(nn.Identity())
        self.class_embed = nn.Linear(hidden_dim, num_classes + 1)
        self.mask_embed = MLP(hidden_dim, hidden_dim, mask_dim, mask_embed_layers)

    def _predict(
        self, output: Tensor, mask_features: Tensor, attn_size: Optional[Sequence[int]]
    ) -> tuple[Tensor, Tensor, Optional[Tensor]]:
        """Heads on ``decoder_norm(output)`` and the attention mask for the next level (if ``attn_size``)."""
        decoded = self.decoder_norm(output)
        class_logits = self.class_embed(decoded)
        mask_logits = torch.einsum("bqc,bchw->bqhw", self.mask_embed(decoded), mask_features)
        attn_mask = None if attn_size is None else masked_attention_mask(mask_logits, attn_size)
        return class_logits, mask_logits, attn_mask

    def forward(self, features: Sequence[Tensor], mask_features: Tensor) -> DecoderOutput:
        check_decoder_inputs(self, features, mask_features)
        levels = self.num_feature_levels
        sizes = [x.shape[-2:] for x in features]
        pos = [self.pe_layer(x).flatten(2).transpose(1, 2) for x in features]  # [B, h*w, C] each
        src = [
            (self.input_proj[i](features[i]).flatten(2) + self.level_embed.weight[i][None, :, None]).transpose(1, 2)
            for i in range(levels)
        ]  # level embedding added to keys and values, [B, h*w, C] each
        batch = features[0].shape[0]
        query_pos = self.query_embed.weight.unsqueeze(0).expand(batch, -1, -1)  # [B, Q, C]
        output = self.query_feat.weight.unsqueeze(0).expand(batch, -1, -1)

        class_logits, mask_logits, attn_mask = self._predict(output, mask_features, sizes[0])
        classes, masks, states = [class_logits], [mask_logits], [output]
        for i in range(self.num_layers):
            level = i % levels
            output = self.transformer_cross_attention_layers[i](output, src[level], attn_mask, pos[level], query_pos)
            output = self.transformer_self_attention_layers[i](output, query_pos)
            output = self.transformer_ffn_layers[i](output)
            states.append(output)
            last = i == self.num_layers - 1
            class_logits, mask_logits, attn_mask = self._predict(
                output, mask_features, None if last else sizes[(i + 1) % levels])
            classes.append(class_logits)
            masks.append(mask_logits)
        return DecoderOutput(classes, masks, states)
