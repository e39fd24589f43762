"""Mask2Former's multi-scale masked-attention transformer decoder (official
``MultiScaleMaskedTransformerDecoder``), with the official state-dict names:
``transformer_{self,cross}_attention_layers.{i}.{self_attn,multihead_attn}.{in_proj_weight,in_proj_bias,out_proj}``,
``.norm``, ``transformer_ffn_layers.{i}.{linear1,linear2,norm}``, ``decoder_norm``, ``query_feat``,
``query_embed``, ``level_embed``, ``class_embed``, ``mask_embed.layers.{i}`` and ``input_proj.{i}`` when projecting.
"""
from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segformers.registry import TRANSFORMER_DECODERS
from segformers.structures import DecoderOutput, check_decoder_inputs, decoder_channels

from ..layers import MLP, PositionEmbeddingSine, c2_xavier_fill
from ..layers.transformer import CrossAttentionLayer, FFNLayer, SelfAttentionLayer


class LevelMemory(NamedTuple):
    """One feature level as the queries attend to it: ``src`` / ``pos`` ``[B, h*w, C]`` and its ``size`` ``(h, w)``."""

    src: Tensor
    pos: Tensor
    size: Any


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

    **Public steps** (override one in a subclass for an ablation; ``forward`` only composes them):
    :meth:`level_memories` (features -> one :class:`LevelMemory` per level, layer ``i`` reads level
    ``i % len``), :meth:`initial_queries`, :meth:`predict` (the heads), :meth:`attention_mask` (the next
    layer's cross-attention mask from a prediction; ``None`` attends everywhere, as
    ``projects/no_masked_attention`` does) and :meth:`decoder_layer` (cross-attention -> self-attention -> FFN).

    **Layer count convention**: ``dec_layers`` is the number of attention layers (official / Hugging Face
    ``DEC_LAYERS = decoder_layers = 10`` builds 9 layers, i.e. ``dec_layers=9`` here, the default, giving
    10 predictions). ``num_classes`` and ``input_shape`` (the spec bank: ``in_channels`` of the
    ``in_feature`` levels and ``mask_dim`` of ``mask_features``) are injected by the segmentor.

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

    # a small instance for the contract test (segformers.testing)
    tiny_config = dict(hidden_dim=32, num_queries=8, nheads=2, dim_feedforward=32, dec_layers=3)

    def __init__(
        self, *, num_classes: int, input_shape: Mapping[str, Any], in_feature: str = "multi_scale",
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
        in_channels, mask_dim = decoder_channels(
            f"Transformer decoder {type(self).__name__}", input_shape, in_feature, num_feature_levels)
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

    def level_memories(self, features: Sequence[Tensor]) -> list[LevelMemory]:
        """Per level: ``input_proj`` + level embedding (added to keys and values) and the sine positions."""
        memories = []
        for i, x in enumerate(features):
            src = self.input_proj[i](x).flatten(2) + self.level_embed.weight[i][None, :, None]
            pos = self.pe_layer(x).flatten(2).transpose(1, 2)
            memories.append(LevelMemory(src.transpose(1, 2), pos, x.shape[-2:]))  # [B, h*w, C] each
        return memories

    def initial_queries(self, batch: int) -> tuple[Tensor, Tensor]:
        """``(query features, query positions)``, each ``[B, Q, C]``: the learnable ``query_feat`` / ``query_embed``."""
        query_pos = self.query_embed.weight.unsqueeze(0).expand(batch, -1, -1)
        return self.query_feat.weight.unsqueeze(0).expand(batch, -1, -1), query_pos

    def predict(self, output: Tensor, mask_features: Tensor) -> tuple[Tensor, Tensor]:
        """Heads on ``decoder_norm(output [B, Q, C])``: class ``[B, Q, K+1]`` and mask ``[B, Q, H/4, W/4]`` logits."""
        decoded = self.decoder_norm(output)
        mask_logits = torch.einsum("bqc,bchw->bqhw", self.mask_embed(decoded), mask_features)
        return self.class_embed(decoded), mask_logits

    def attention_mask(self, mask_logits: Tensor, size: Any) -> Optional[Tensor]:
        """The cross-attention mask of the next layer, from the last prediction's ``[B, Q, H/4, W/4]`` logits
        and the size of the level it attends to: :func:`masked_attention_mask` (bool ``[B, 1, Q, h*w]``).

        Return ``None`` to attend everywhere, or a float ``[B, 1, Q, h*w]`` bias added to the logits."""
        return masked_attention_mask(mask_logits, size)

    def decoder_layer(self, i: int, output: Tensor, memory: LevelMemory, query_pos: Tensor,
                      attn_mask: Optional[Tensor]) -> Tensor:
        """Layer ``i`` on the queries ``[B, Q, C]``: cross-attention to ``memory``, self-attention, FFN."""
        output = self.transformer_cross_attention_layers[i](output, memory.src, attn_mask, memory.pos, query_pos)
        output = self.transformer_self_attention_layers[i](output, query_pos)
        return self.transformer_ffn_layers[i](output)

    def forward(self, features: Sequence[Tensor], mask_features: Tensor) -> DecoderOutput:
        check_decoder_inputs(self, features, mask_features)
        memories = self.level_memories(features)
        output, query_pos = self.initial_queries(features[0].shape[0])
        class_logits, mask_logits = self.predict(output, mask_features)
        classes, masks, states = [class_logits], [mask_logits], [output]
        for i in range(self.num_layers):
            memory = memories[i % len(memories)]
            output = self.decoder_layer(i, output, memory, query_pos, self.attention_mask(mask_logits, memory.size))
            class_logits, mask_logits = self.predict(output, mask_features)
            classes.append(class_logits)
            masks.append(mask_logits)
            states.append(output)
        return DecoderOutput(classes, masks, states)
