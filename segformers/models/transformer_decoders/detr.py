"""MaskFormer's transformer decoder: a DETR decoder over one feature map (official ``TransformerPredictor``).

State-dict names follow the official code: ``transformer.decoder.layers.{i}.{self_attn, multihead_attn,
linear1, linear2, norm1, norm2, norm3}``, ``transformer.decoder.norm``, ``query_embed``, ``input_proj``,
``class_embed``, ``mask_embed.layers.{i}`` (and ``transformer.encoder.norm`` with ``pre_norm=True``).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import Tensor, nn

from segformers.registry import TRANSFORMER_DECODERS
from segformers.structures import DecoderOutput, check_decoder_inputs, decoder_channels

from ..layers import MLP, PositionEmbeddingSine, c2_xavier_fill
from ..layers.transformer import DetrTransformerDecoder


@TRANSFORMER_DECODERS.register_module()
class StandardTransformerDecoder(nn.Module):
    """MaskFormer's decoder: ``Q`` zero-initialised queries with learned positions attend to one feature map.

    ``forward(features=[x [B, in_channels, h, w]], mask_features [B, mask_dim, H/4, W/4])`` returns a
    :class:`DecoderOutput` with ``dec_layers`` predictions (one per layer, the decoder's final LayerNorm applied
    to each; the criterion decides which ones it supervises); class logits ``[B, Q, num_classes + 1]``,
    mask logits ``[B, Q, H/4, W/4]``. ``num_classes`` and ``input_shape`` (the spec bank, from which
    ``in_channels`` and ``mask_dim`` are read) are injected by the segmentor. The official ``ENC_LAYERS``
    (0 in every released config) is not supported: the optional transformer encoder lives in the pixel decoder.

    Args:
        in_feature: what the decoder reads (``"res5"``, ``"encoder"``, ``"mask_features"``, ...).
        hidden_dim, num_queries, nheads, dim_feedforward: transformer sizes.
        dropout: dropout on attention weights, residual branches and inside the FFN (official 0.1).
        dec_layers: number of decoder layers.
        pre_norm: pre-LayerNorm layers; as officially, the (empty) encoder's ``transformer.encoder.norm`` then
            normalises the memory.
        enforce_input_project: use a 1x1 ``input_proj`` even if ``in_channels == hidden_dim``.
        mask_embed_layers: depth of the ``mask_embed`` MLP.
    """

    num_feature_levels = 1

    # a small instance for the contract test (segformers.testing)
    tiny_config = dict(hidden_dim=32, num_queries=8, nheads=2, dim_feedforward=32, dec_layers=2)

    def __init__(
        self, *, num_classes: int, input_shape: Mapping[str, Any], in_feature: str = "res5",
        hidden_dim: int = 256, num_queries: int = 100, nheads: int = 8, dropout: float = 0.1,
        dim_feedforward: int = 2048, dec_layers: int = 6, pre_norm: bool = False,
        enforce_input_project: bool = False, mask_embed_layers: int = 3,
    ) -> None:
        super().__init__()
        if dec_layers < 1:
            raise ValueError(f"StandardTransformerDecoder: dec_layers must be >= 1, got {dec_layers}.")
        in_channels, mask_dim = decoder_channels(
            f"Transformer decoder {type(self).__name__}", input_shape, in_feature, self.num_feature_levels)
        self.in_feature, self.in_channels, self.mask_dim = in_feature, in_channels, mask_dim
        self.num_classes, self.num_queries = num_classes, num_queries
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
        states = [torch.zeros_like(query_pos)]  # then every layer's output before the norm
        hs = self.transformer["decoder"](states[0], memory, pos, query_pos, states=states)  # [L, B, Q, C]
        class_logits = self.class_embed(hs)  # [L, B, Q, K+1]
        mask_logits = torch.einsum("lbqc,bchw->lbqhw", self.mask_embed(hs), mask_features)
        return DecoderOutput(list(class_logits.unbind(0)), list(mask_logits.unbind(0)), states)
