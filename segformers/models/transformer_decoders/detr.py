"""MaskFormer's transformer decoder: a DETR decoder over one feature map (official ``TransformerPredictor``).

State-dict names follow the official code: ``transformer.decoder.layers.{i}.{self_attn, multihead_attn,
linear1, linear2, norm1, norm2, norm3}``, ``transformer.decoder.norm``, ``query_embed``, ``input_proj``,
``class_embed``, ``mask_embed.layers.{i}`` (and ``transformer.encoder.norm`` with ``pre_norm=True``).
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


def check_decoder_inputs(decoder: nn.Module, features: Sequence[Tensor], mask_features: Tensor) -> None:
    """Raise ``ValueError`` naming the problem if the inputs do not fit ``decoder``'s contract."""
    name, levels = type(decoder).__name__, decoder.num_feature_levels
    if not isinstance(features, (list, tuple)) or len(features) != levels:
        got = f"{len(features)} maps" if isinstance(features, (list, tuple)) else type(features).__name__
        raise ValueError(
            f"{name} (in_feature={decoder.in_feature!r}) expects a list of {levels} feature map(s) ordered "
            f"low -> high resolution, got {got}. Wrap a single map as [x] or set num_feature_levels."
        )
    for i, x in enumerate(features):
        if x.ndim != 4 or x.shape[1] != decoder.in_channels:
            raise ValueError(
                f"{name}: features[{i}] must be [B, in_channels={decoder.in_channels}, h, w], got "
                f"{tuple(x.shape)}. in_channels must be the channels of in_feature={decoder.in_feature!r}."
            )
    if mask_features.ndim != 4 or mask_features.shape[1] != decoder.mask_dim:
        raise ValueError(
            f"{name}: mask_features must be [B, mask_dim={decoder.mask_dim}, H/4, W/4], got "
            f"{tuple(mask_features.shape)}. mask_dim must equal the pixel decoder's mask_dim."
        )
    if mask_features.shape[0] != features[0].shape[0]:
        raise ValueError(
            f"{name}: batch sizes differ: features {features[0].shape[0]}, mask_features {mask_features.shape[0]}."
        )


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
    else only the last one (``L = 1``), as DETR's ``return_intermediate``.
    """

    def __init__(self, *, num_layers: int, d_model: int, **layer_kwargs) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DetrDecoderLayer(d_model=d_model, **layer_kwargs) for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, tgt: Tensor, memory: Tensor, pos: Tensor, query_pos: Tensor, intermediate: bool,
                states: Optional[list[Tensor]] = None) -> Tensor:
        outputs = []
        for layer in self.layers:
            tgt = layer(tgt, memory, pos, query_pos)
            if states is not None:  # every layer's output before the norm
                states.append(tgt)
            if intermediate:
                outputs.append(self.norm(tgt))
        if not intermediate:
            outputs.append(self.norm(tgt))
        return torch.stack(outputs)


@TRANSFORMER_DECODERS.register_module()
class StandardTransformerDecoder(nn.Module):
    """MaskFormer's decoder: ``Q`` zero-initialised queries with learned positions attend to one feature map.

    ``forward(features=[x [B, in_channels, h, w]], mask_features [B, mask_dim, H/4, W/4])`` returns a
    :class:`DecoderOutput` with ``dec_layers`` predictions (one per layer, the decoder's final LayerNorm applied
    to each) when ``deep_supervision`` else only the final one; class logits ``[B, Q, num_classes + 1]``,
    mask logits ``[B, Q, H/4, W/4]``. ``num_classes``, ``in_channels`` and ``mask_dim`` are injected by the
    segmentor. The official ``ENC_LAYERS`` (0 in every released config) is not supported: the optional
    transformer encoder lives in the pixel decoder.

    Args:
        in_feature: what the decoder reads (``"res5"``, ``"encoder"``, ``"mask_features"``, ...).
        hidden_dim, num_queries, nheads, dim_feedforward: transformer sizes.
        dropout: dropout on attention weights, residual branches and inside the FFN (official 0.1).
        dec_layers: number of decoder layers.
        pre_norm: pre-LayerNorm layers; as officially, the (empty) encoder's ``transformer.encoder.norm`` then
            normalises the memory.
        deep_supervision: return every layer's prediction (for the auxiliary losses).
        enforce_input_project: use a 1x1 ``input_proj`` even if ``in_channels == hidden_dim``.
        mask_embed_layers: depth of the ``mask_embed`` MLP.
    """

    num_feature_levels = 1

    def __init__(
        self, *, num_classes: int, in_channels: int, mask_dim: int, in_feature: str = "res5",
        hidden_dim: int = 256, num_queries: int = 100, nheads: int = 8, dropout: float = 0.1,
        dim_feedforward: int = 2048, dec_layers: int = 6, pre_norm: bool = False, deep_supervision: bool = True,
        enforce_input_project: bool = False, mask_embed_layers: int = 3,
    ) -> None:
        super().__init__()
        if dec_layers < 1:
            raise ValueError(f"StandardTransformerDecoder: dec_layers must be >= 1, got {dec_layers}.")
        self.in_feature, self.in_channels, self.mask_dim = in_feature, in_channels, mask_dim
        self.num_classes, self.num_queries, self.deep_supervision = num_classes, num_queries, deep_supervision
        self.pe_layer = PositionEmbeddingSine(hidden_dim // 2, normalize=True)
        self.transformer = nn.ModuleDict()
        if pre_norm:
            self.transformer["encoder"] = nn.ModuleDict({"norm": nn.LayerNorm(hidden_dim)})
        self.transformer["decoder"] = DetrTransformerDecoder(
            num_layers=dec_layers, d_model=hidden_dim, nhead=nheads, dim_feedforward=dim_feedforward,
            dropout=dropout, pre_norm=pre_norm,
        )
        for p in self.transformer.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        self.query_embed = nn.Embedding(num_queries, hidden_dim)
        if in_channels != hidden_dim or enforce_input_project:
            self.input_proj = nn.Conv2d(in_channels, hidden_dim, kernel_size=1)
            c2_xavier_fill(self.input_proj)
        else:
            self.input_proj = nn.Identity()
        self.class_embed = nn.Linear(hidden_dim, num_classes + 1)
        self.mask_embed = MLP(hidden_dim, hidden_dim, mask_dim, mask_embed_layers)

    def forward(self, features: Sequence[Tensor], mask_features: Tensor) -> DecoderOutput:
        check_decoder_inputs(self, features, mask_features)
        x = features[0]
        pos = self.pe_layer(x).flatten(2).transpose(1, 2)  # [B, HW, C]
        memory = self.input_proj(x).flatten(2).transpose(1, 2)  # [B, HW, C]
        if "encoder" in self.transformer:
            memory = self.transformer["encoder"]["norm"](memory)
        query_pos = self.query_embed.weight.unsqueeze(0).expand(x.shape[0], -1, -1)  # [B, Q, C]
        states = [torch.zeros_like(query_pos)]
        hs = self.transformer["decoder"](states[0], memory, pos, query_pos, self.deep_supervision, states)
        class_logits = self.class_embed(hs)  # [L, B, Q, K+1]
        mask_logits = torch.einsum("lbqc,bchw->lbqhw", self.mask_embed(hs), mask_features)
        return DecoderOutput(list(class_logits.unbind(0)), list(mask_logits.unbind(0)), states)
