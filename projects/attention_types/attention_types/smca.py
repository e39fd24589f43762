"""Mask2Former's decoder with SMCA-style spatially modulated cross-attention (Table 4c "SMCA")."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from segformers.models.layers import MLP
from segformers.models.transformer_decoders import LevelMemory, MultiScaleMaskedTransformerDecoder
from segformers.registry import TRANSFORMER_DECODERS


def gaussian_log_bias(centres: Tensor, scales: Tensor, size: Sequence[int], beta: float = 1.0) -> Tensor:
    """``log G`` of SMCA's spatial prior on an ``h x w`` grid, as a per-head attention bias.

    ``centres [B, Q, G, 2]`` and ``scales [B, Q, heads, 2]`` are ``(x, y)`` in image-normalised units
    (``G`` is 1 for a centre shared by the heads, else ``heads``); cell ``(i, j)`` sits at
    ``((j + 0.5) / w, (i + 0.5) / h)``. Returns ``[B, heads, Q, h*w]`` with
    ``-((x - cx)^2 / (beta sx^2) + (y - cy)^2 / (beta sy^2))`` (0 at the centre, negative elsewhere).
    """
    h, w = int(size[0]), int(size[1])
    xs = (torch.arange(w, device=centres.device, dtype=centres.dtype) + 0.5) / w
    ys = (torch.arange(h, device=centres.device, dtype=centres.dtype) + 0.5) / h
    dx = (xs.view(1, 1, 1, 1, w) - centres[..., 0, None, None]) / scales[..., 0, None, None]  # [B, Q, heads, 1, w]
    dy = (ys.view(1, 1, 1, h, 1) - centres[..., 1, None, None]) / scales[..., 1, None, None]  # [B, Q, heads, h, 1]
    log_g = -(dx.square() + dy.square()) / beta  # [B, Q, heads, h, w]
    return log_g.flatten(3).transpose(1, 2)


@TRANSFORMER_DECODERS.register_module()
class SMCADecoder(MultiScaleMaskedTransformerDecoder):
    """``MultiScaleMaskedTransformerDecoder`` whose cross-attention is spatially modulated, not masked.

    Before layer ``i``'s cross-attention each query predicts, from ``output + query_pos`` (``[B, Q, C]``;
    with the default post-norm, exactly its cross-attention query's input), a Gaussian centre (``smca_centre.{i}``: an MLP and a
    sigmoid, image-normalised ``(x, y)``) and per head a scale (``smca_scale.{i}``: a linear layer and a
    sigmoid, floored at ``min_scale``). ``log G`` of that Gaussian on the level's grid
    (:func:`gaussian_log_bias`, ``[B, heads, Q, h*w]``) is added to the attention logits; there is no
    masked attention. The masked decoder's parameters keep their names; the two heads are new.

    Args (beyond the masked decoder's):
        shared_centre: one centre for all heads (only the scales per head) instead of one per head.
        beta: SMCA's bandwidth ``beta`` (the Gaussian is ``exp(-d^2 / (beta s^2))``).
        min_scale: lower bound of the predicted scales (image-normalised), which bounds the bias's slope.
        centre_layers: depth of the centre MLP.
    """

    def __init__(self, *, num_classes: int, input_shape: Mapping[str, Any], shared_centre: bool = False,
                 beta: float = 1.0, min_scale: float = 0.01, centre_layers: int = 2, **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, input_shape=input_shape, **kwargs)
        if beta <= 0 or not 0 < min_scale < 1 or centre_layers < 1:
            raise ValueError(f"SMCADecoder: need beta > 0, 0 < min_scale < 1 and centre_layers >= 1, got beta={beta}, "
                             f"min_scale={min_scale}, centre_layers={centre_layers}.")
        hidden = self.query_embed.weight.shape[1]
        centres = 1 if shared_centre else self.num_heads
        self.beta, self.min_scale, self.centres_per_query = beta, min_scale, centres
        self.smca_centre = nn.ModuleList(
            MLP(hidden, hidden, 2 * centres, centre_layers) for _ in range(self.num_layers))
        self.smca_scale = nn.ModuleList(nn.Linear(hidden, 2 * self.num_heads) for _ in range(self.num_layers))

    def gaussian_parameters(self, i: int, queries: Tensor) -> tuple[Tensor, Tensor]:
        """Layer ``i``'s centres ``[B, Q, G, 2]`` and scales ``[B, Q, heads, 2]`` from ``queries [B, Q, C]``."""
        b, q, _ = queries.shape
        centres = self.smca_centre[i](queries).sigmoid().view(b, q, self.centres_per_query, 2)
        scales = self.smca_scale[i](queries).sigmoid().view(b, q, self.num_heads, 2)
        return centres, self.min_scale + (1 - self.min_scale) * scales

    def spatial_bias(self, i: int, output: Tensor, query_pos: Tensor, size: Any) -> Tensor:
        """The float ``[B, heads, Q, h*w]`` bias of layer ``i``'s cross-attention (``log G``)."""
        centres, scales = self.gaussian_parameters(i, output + query_pos)
        return gaussian_log_bias(centres, scales, size, self.beta)

    def attention_mask(self, mask_logits: Tensor, size: Any) -> Optional[Tensor]:
        return None  # no masked attention: the spatial prior comes from the queries, in decoder_layer

    def decoder_layer(self, i: int, output: Tensor, memory: LevelMemory, query_pos: Tensor,
                      attn_mask: Optional[Tensor]) -> Tensor:
        bias = self.spatial_bias(i, output, query_pos, memory.size)
        if attn_mask is not None:  # a subclass that also masks: blocked locations stay blocked
            bias = bias.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else bias + attn_mask
        return super().decoder_layer(i, output, memory, query_pos, bias)
