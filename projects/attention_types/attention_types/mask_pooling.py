"""Mask2Former's decoder with K-Net-style mask pooling in place of cross-attention (Table 4c "mask pooling")."""
from __future__ import annotations

from typing import Any, Mapping, Optional

import torch.nn.functional as F
from torch import Tensor, nn

from segformers.models.transformer_decoders import LevelMemory, MultiScaleMaskedTransformerDecoder
from segformers.registry import TRANSFORMER_DECODERS


def pooling_weights(mask_logits: Tensor, size: Any, detach: bool = True) -> Tensor:
    """``[B, Q, H/4, W/4]`` mask logits -> ``[B, Q, h*w]`` soft masks in ``[0, 1]`` at a level of ``size``.

    Bilinear resize of the logits to ``size`` (as the masked attention does), then a sigmoid."""
    logits = mask_logits.detach() if detach else mask_logits
    resized = F.interpolate(logits, size=tuple(int(s) for s in size), mode="bilinear", align_corners=False)
    return resized.sigmoid().flatten(2)


def mask_pool(memory: Tensor, weights: Tensor, eps: float = 1e-6) -> Tensor:
    """Each query's mean feature under its soft mask: ``memory [B, hw, C]``, ``weights [B, Q, hw]`` -> ``[B, Q, C]``.

    ``sum_j w_qj x_j / max(sum_j w_qj, eps)``: a query whose mask is (nearly) empty pools (nearly) zero."""
    total = weights.sum(dim=-1, keepdim=True).clamp_min(eps)
    return (weights @ memory) / total


class MaskPoolingLayer(nn.Module):
    """The cross-attention sub-layer's slot, filled by mask pooling: ``[B, Q, C]`` queries -> ``[B, Q, C]``.

    ``update = proj(mask_pool(memory, weights))`` joins the queries as the cross-attention's output does:
    post-norm ``norm(tgt + Drop(update))`` or pre-norm ``tgt + Drop(update)`` where the pre-norm ``norm``
    is applied to the pooled features (the sub-layer's input; the queries themselves are not read).
    Parameters ``proj`` and ``norm``, xavier-uniform weights as the other sub-layers.
    """

    def __init__(self, *, d_model: int, dropout: float = 0.0, pre_norm: bool = False) -> None:
        super().__init__()
        self.proj = nn.Linear(d_model, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.dropout, self.pre_norm = dropout, pre_norm
        nn.init.xavier_uniform_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, tgt: Tensor, memory: Tensor, weights: Tensor) -> Tensor:
        pooled = mask_pool(memory, weights)
        if self.pre_norm:
            return tgt + F.dropout(self.proj(self.norm(pooled)), self.dropout, self.training)
        return self.norm(tgt + F.dropout(self.proj(pooled), self.dropout, self.training))


@TRANSFORMER_DECODERS.register_module()
class MaskPoolingDecoder(MultiScaleMaskedTransformerDecoder):
    """``MultiScaleMaskedTransformerDecoder`` whose queries read their level by mask pooling, not attention.

    Layer ``i``: each query's update is the mean of the level's features (``input_proj`` + level
    embedding, ``[B, h*w, C]``) under its sigmoid mask from the previous prediction (resized to the
    level, detached unless ``detach_masks=False``), projected and added residually
    (:class:`MaskPoolingLayer`, in ``transformer_cross_attention_layers.{i}``: ``proj`` + ``norm``); then
    self-attention and FFN as in the masked decoder. All other parameters keep the masked decoder's
    names; the cross-attention weights (``multihead_attn``) do not exist here.
    """

    def __init__(self, *, num_classes: int, input_shape: Mapping[str, Any], detach_masks: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, input_shape=input_shape, **kwargs)
        hidden = self.query_embed.weight.shape[1]
        sub = dict(d_model=hidden, dropout=kwargs.get("dropout", 0.0), pre_norm=kwargs.get("pre_norm", False))
        self.transformer_cross_attention_layers = nn.ModuleList(
            MaskPoolingLayer(**sub) for _ in range(self.num_layers))
        self.detach_masks = detach_masks

    def attention_mask(self, mask_logits: Tensor, size: Any) -> Optional[Tensor]:
        """Here: the pooling weights of the next layer, ``[B, Q, h*w]`` in ``[0, 1]`` (:func:`pooling_weights`)."""
        return pooling_weights(mask_logits, size, self.detach_masks)

    def decoder_layer(self, i: int, output: Tensor, memory: LevelMemory, query_pos: Tensor,
                      attn_mask: Optional[Tensor]) -> Tensor:
        """Layer ``i``: mask pooling (``attn_mask`` = the pooling weights), self-attention, FFN."""
        if attn_mask is None or not attn_mask.is_floating_point():
            raise ValueError("MaskPoolingDecoder.decoder_layer needs float pooling weights [B, Q, h*w] from "
                             "attention_mask(); an override of attention_mask must return them, not None or a "
                             "bool mask.")
        output = self.transformer_cross_attention_layers[i](output, memory.src, attn_mask)
        output = self.transformer_self_attention_layers[i](output, query_pos)
        return self.transformer_ffn_layers[i](output)
