"""Transformer layers shared by the decoders (and open to plugins).

* Mask2Former's sub-layers (official ``mask2former_transformer_decoder.py``): :class:`SelfAttentionLayer`,
  :class:`CrossAttentionLayer` (masked or plain), :class:`FFNLayer`; state-dict names
  ``self_attn`` / ``multihead_attn`` / ``linear1`` / ``linear2`` / ``norm``.
* DETR's layers (official ``transformer.py`` of MaskFormer): :class:`DetrDecoderLayer` and its stack
  :class:`DetrTransformerDecoder`, :class:`DetrEncoderLayer` and its stack :class:`DetrEncoder`.

Every layer works batch-first on ``[B, L, C]``.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import MultiheadAttention

__all__ = [
    "SelfAttentionLayer", "CrossAttentionLayer", "FFNLayer", "DetrDecoderLayer", "DetrTransformerDecoder",
    "DetrEncoderLayer", "DetrEncoder",
]


def _xavier_(module: nn.Module) -> None:
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)


class _SubLayer(nn.Module):
    """``modules`` (registered in order, then ``norm``) inside a residual: post-norm ``LN(x + Drop(f(x)))`` or
    pre-norm ``x + Drop(f(LN(x)))``; every >1-D parameter xavier-uniform (the official init)."""

    def __init__(self, d_model: int, dropout: float, pre_norm: bool, **modules: nn.Module) -> None:
        super().__init__()
        for name, module in modules.items():
            self.add_module(name, module)
        self.norm = nn.LayerNorm(d_model)
        self.dropout, self.pre_norm = dropout, pre_norm
        _xavier_(self)

    def sublayer_input(self, tgt: Tensor) -> Tensor:
        return self.norm(tgt) if self.pre_norm else tgt

    def add_residual(self, tgt: Tensor, out: Tensor) -> Tensor:
        tgt = tgt + F.dropout(out, self.dropout, self.training)
        return tgt if self.pre_norm else self.norm(tgt)


class SelfAttentionLayer(_SubLayer):
    """Query self-attention on ``[B, Q, C]``; ``query_pos`` added to queries and keys; post- or pre-norm."""

    def __init__(self, *, d_model: int, nhead: int, dropout: float = 0.0, pre_norm: bool = False) -> None:
        super().__init__(d_model, dropout, pre_norm, self_attn=MultiheadAttention(d_model, nhead, dropout=dropout))

    def forward(self, tgt: Tensor, query_pos: Tensor) -> Tensor:
        x = self.sublayer_input(tgt)
        q = x + query_pos
        return self.add_residual(tgt, self.self_attn(q, q, x))


class CrossAttentionLayer(_SubLayer):
    """Cross-attention of ``[B, Q, C]`` queries to ``[B, HW, C]`` memory, masked or plain.

    ``attn_mask``: ``None`` (attend everywhere), bool ``[B, 1, Q, HW]`` (``True`` = may attend) or a float
    bias added to the attention logits; ``pos`` is added to the keys only.
    """

    def __init__(self, *, d_model: int, nhead: int, dropout: float = 0.0, pre_norm: bool = False) -> None:
        super().__init__(d_model, dropout, pre_norm,
                         multihead_attn=MultiheadAttention(d_model, nhead, dropout=dropout))

    def forward(
        self, tgt: Tensor, memory: Tensor, attn_mask: Optional[Tensor], pos: Tensor, query_pos: Tensor
    ) -> Tensor:
        x = self.sublayer_input(tgt)
        return self.add_residual(tgt, self.multihead_attn(x + query_pos, memory + pos, memory, attn_mask=attn_mask))


class FFNLayer(_SubLayer):
    """``Linear -> ReLU -> Linear`` on ``[B, Q, C]`` with a residual; post- or pre-norm."""

    def __init__(self, *, d_model: int, dim_feedforward: int, dropout: float = 0.0, pre_norm: bool = False) -> None:
        super().__init__(d_model, dropout, pre_norm, linear1=nn.Linear(d_model, dim_feedforward),
                         linear2=nn.Linear(dim_feedforward, d_model))

    def forward(self, tgt: Tensor) -> Tensor:
        x = self.linear2(F.dropout(F.relu(self.linear1(self.sublayer_input(tgt))), self.dropout, self.training))
        return self.add_residual(tgt, x)


class DetrDecoderLayer(nn.Module):
    """DETR decoder layer on ``[B, Q, C]`` queries and ``[B, HW, C]`` memory: self-attn -> cross-attn -> FFN.

    Post-norm (``LN(x + Drop(f(x)))``) by default, pre-norm (``x + Drop(f(LN(x)))``) with ``pre_norm=True``;
    ``query_pos`` is added to the self-attention queries/keys and the cross-attention queries, ``pos`` to the
    cross-attention keys.
    """

    def __init__(self, *, d_model: int, nhead: int, dim_feedforward: int, dropout: float, pre_norm: bool) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = dropout
        self.pre_norm = pre_norm

    def _drop(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.dropout, self.training)

    def _self_attn(self, x: Tensor, query_pos: Tensor) -> Tensor:
        q = x + query_pos
        return self._drop(self.self_attn(q, q, x))

    def _cross_attn(self, x: Tensor, memory: Tensor, pos: Tensor, query_pos: Tensor) -> Tensor:
        return self._drop(self.multihead_attn(x + query_pos, memory + pos, memory))

    def _ffn(self, x: Tensor) -> Tensor:
        return self._drop(self.linear2(self._drop(F.relu(self.linear1(x)))))

    def forward(self, tgt: Tensor, memory: Tensor, pos: Tensor, query_pos: Tensor) -> Tensor:
        if self.pre_norm:
            tgt = tgt + self._self_attn(self.norm1(tgt), query_pos)
            tgt = tgt + self._cross_attn(self.norm2(tgt), memory, pos, query_pos)
            return tgt + self._ffn(self.norm3(tgt))
        tgt = self.norm1(tgt + self._self_attn(tgt, query_pos))
        tgt = self.norm2(tgt + self._cross_attn(tgt, memory, pos, query_pos))
        return self.norm3(tgt + self._ffn(tgt))


class DetrTransformerDecoder(nn.Module):
    """A stack of :class:`DetrDecoderLayer` and the final ``norm``.

    Returns ``[L, B, Q, C]``: ``norm`` of every layer's output (``L = num_layers``) with ``intermediate=True``,
    else only the last one (``L = 1``), as DETR's ``return_intermediate``. A ``states`` list, if given,
    receives every layer's output ``[B, Q, C]`` before the norm.
    """

    def __init__(self, *, num_layers: int, d_model: int, **layer_kwargs) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DetrDecoderLayer(d_model=d_model, **layer_kwargs) for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(
        self, tgt: Tensor, memory: Tensor, pos: Tensor, query_pos: Tensor, intermediate: bool = True,
        states: Optional[list[Tensor]] = None,
    ) -> Tensor:
        outputs = []
        for layer in self.layers:
            tgt = layer(tgt, memory, pos, query_pos)
            if states is not None:  # every layer's output before the norm (DecoderOutput.hidden_states)
                states.append(tgt)
            if intermediate:
                outputs.append(self.norm(tgt))
        if not intermediate:
            outputs.append(self.norm(tgt))
        return torch.stack(outputs)


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
