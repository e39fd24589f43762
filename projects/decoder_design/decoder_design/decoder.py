"""Mask2Former's decoder with the Table 4b / Xb design switches: query features and sub-layer order."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from segformers.models.transformer_decoders import LevelMemory, MultiScaleMaskedTransformerDecoder
from segformers.registry import TRANSFORMER_DECODERS
from segformers.structures import DecoderOutput

QUERY_FEATURES = ("learnable", "zero", "learnable_unsupervised")
LAYER_ORDERS = ("ca-sa-ffn", "sa-ca-ffn")


class ZeroQueryFeatures(nn.Module):
    """DETR's query features: a constant zero ``weight [Q, C]``, a non-persistent buffer (neither a
    parameter nor in the state dict), read as ``query_feat.weight`` like the learnable ``nn.Embedding``."""

    def __init__(self, num_queries: int, hidden_dim: int) -> None:
        super().__init__()
        self.register_buffer("weight", torch.zeros(num_queries, hidden_dim), persistent=False)


@TRANSFORMER_DECODERS.register_module()
class DesignAblationDecoder(MultiScaleMaskedTransformerDecoder):
    """``MultiScaleMaskedTransformerDecoder`` with two design switches (the masked decoder when both default).

    ``query_features``:
        ``"learnable"`` (default): learnable ``query_feat``, its prediction supervised (``dec_layers + 1``
        predictions); ``"zero"``: zero query features that are not learnt (Table 4b "- learnable query
        features", Table Xb "zero-init (DETR)"; ``query_feat`` is a :class:`ZeroQueryFeatures`, out of the
        state dict); ``"learnable_unsupervised"``: learnable, and the prediction made from them still gives
        layer 0's attention mask, but it is not returned, so no loss sees it: ``dec_layers`` predictions
        (and ``hidden_states``, aligned with them) instead of ``dec_layers + 1`` (Table Xb).
    ``layer_order``: ``"ca-sa-ffn"`` (default, Mask2Former) or ``"sa-ca-ffn"`` (self-attention first,
        as DETR / MaskFormer; Table 4b "- cross-attention first").
    Shapes as the masked decoder: class ``[B, Q, K+1]`` and mask ``[B, Q, H/4, W/4]`` logits per prediction.
    """

    # the contract test (tests/test_contracts.py) checks the least default path: one prediction fewer, SA first
    tiny_config = dict(MultiScaleMaskedTransformerDecoder.tiny_config, query_features="learnable_unsupervised",
                       layer_order="sa-ca-ffn")

    def __init__(self, *, num_classes: int, input_shape: Mapping[str, Any], query_features: str = "learnable",
                 layer_order: str = "ca-sa-ffn", **kwargs: Any) -> None:
        if query_features not in QUERY_FEATURES:
            raise ValueError(f"DesignAblationDecoder: query_features={query_features!r} is not one of "
                             f"{QUERY_FEATURES}.")
        if layer_order not in LAYER_ORDERS:
            raise ValueError(f"DesignAblationDecoder: layer_order={layer_order!r} is not one of {LAYER_ORDERS}.")
        super().__init__(num_classes=num_classes, input_shape=input_shape, **kwargs)
        self.query_features, self.layer_order = query_features, layer_order
        if query_features == "zero":
            self.query_feat = ZeroQueryFeatures(*self.query_feat.weight.shape)

    def decoder_layer(self, i: int, output: Tensor, memory: LevelMemory, query_pos: Tensor,
                      attn_mask: Optional[Tensor]) -> Tensor:
        """Layer ``i`` on ``[B, Q, C]``: ``layer_order``'s attention sub-layers, then the FFN."""
        if self.layer_order == "ca-sa-ffn":
            return super().decoder_layer(i, output, memory, query_pos, attn_mask)
        output = self.transformer_self_attention_layers[i](output, query_pos)
        output = self.transformer_cross_attention_layers[i](output, memory.src, attn_mask, memory.pos, query_pos)
        return self.transformer_ffn_layers[i](output)

    def forward(self, features: Sequence[Tensor], mask_features: Tensor) -> DecoderOutput:
        out = super().forward(features, mask_features)
        if self.query_features != "learnable_unsupervised":
            return out
        states = None if out.hidden_states is None else out.hidden_states[1:]
        return DecoderOutput(out.class_logits[1:], out.mask_logits[1:], states)

    def extra_repr(self) -> str:
        return f"query_features={self.query_features!r}, layer_order={self.layer_order!r}"
