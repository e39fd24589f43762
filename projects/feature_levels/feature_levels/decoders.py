"""Mask2Former's masked decoder fed one feature level (single scale) or all levels at once (naive multi-scale).

Both subclass :class:`~segformers.models.transformer_decoders.MultiScaleMaskedTransformerDecoder` and override
its public steps only (``level_memories`` and, for the naive variant, ``attention_mask``); the layers, heads
and the state-dict names stay the masked decoder's.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segformers.models.transformer_decoders import MultiScaleMaskedTransformerDecoder
from segformers.models.transformer_decoders.masked_attention import LevelMemory
from segformers.registry import TRANSFORMER_DECODERS

_TINY = dict(hidden_dim=32, num_queries=8, nheads=2, dim_feedforward=32, dec_layers=3)


@TRANSFORMER_DECODERS.register_module()
class SingleScaleMaskedDecoder(MultiScaleMaskedTransformerDecoder):
    """Every layer attends to ONE level of the pixel decoder's multi-scale maps (Table 4d "single scale").

    ``forward(features [num_feature_levels x [B, C, h_l, w_l]] low -> high resolution, mask_features
    [B, mask_dim, H/4, W/4])`` reads only ``features[single_scale_level]`` (0 = the coarsest, e.g. 1/32 of
    the paper base's 1/32, 1/16, 1/8; 1 = 1/16; 2 = 1/8) for all ``dec_layers`` layers and returns the
    masked decoder's :class:`~segformers.structures.DecoderOutput`.

    ``num_feature_levels`` is how many maps the decoder is handed (it must cover ``single_scale_level``;
    the segmentor checks it against the pixel decoder's specs); ``level_embed`` and ``input_proj`` hold one
    entry, for the chosen level, so that no parameter goes unused.
    """

    tiny_config = dict(_TINY, single_scale_level=1)

    def __init__(self, *, single_scale_level: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(single_scale_level, bool) or not isinstance(single_scale_level, int):
            raise TypeError(f"{type(self).__name__}: single_scale_level must be an int level index "
                            f"(0 = coarsest), got {single_scale_level!r}.")
        if not 0 <= single_scale_level < self.num_feature_levels:
            raise ValueError(
                f"{type(self).__name__}: single_scale_level={single_scale_level} is not one of the "
                f"num_feature_levels={self.num_feature_levels} levels it is handed (0 = coarsest .. "
                f"{self.num_feature_levels - 1} = finest). Lower single_scale_level or raise num_feature_levels "
                "(the pixel decoder must provide that many multi-scale maps)."
            )
        self.single_scale_level = single_scale_level
        hidden = self.query_feat.weight.shape[1]
        self.level_embed = nn.Embedding(1, hidden)
        self.input_proj = nn.ModuleList([self.input_proj[single_scale_level]])

    def level_memories(self, features: Sequence[Tensor]) -> list[LevelMemory]:
        """One :class:`LevelMemory`: the chosen level (projected, level embedding added, sine positions)."""
        return super().level_memories([features[self.single_scale_level]])

    def extra_repr(self) -> str:
        return f"single_scale_level={self.single_scale_level}"


def multi_level_attention_mask(mask_logits: Tensor, sizes: Sequence[Sequence[int]]) -> Tensor:
    """Masked attention over several levels at once: ``[B, Q, H/4, W/4]`` logits -> bool ``[B, 1, Q, sum h*w]``.

    Per level as Mask2Former does (bilinear resize to ``(h_l, w_l)``, ``sigmoid >= 0.5`` may be attended,
    detached), concatenated along the key axis in the order of ``sizes``; a query blocked at every
    location of every level attends everywhere (the official fallback, over the whole key).
    """
    logits = mask_logits.detach()
    allowed = [
        F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=False).sigmoid().flatten(2) >= 0.5
        for size in sizes
    ]
    joined = torch.cat(allowed, dim=-1)
    joined = joined | ~joined.any(dim=-1, keepdim=True)
    return joined.unsqueeze(1)


@TRANSFORMER_DECODERS.register_module()
class NaiveMultiScaleMaskedDecoder(MultiScaleMaskedTransformerDecoder):
    """Every layer attends to ALL ``num_feature_levels`` levels concatenated (Table 4d "naive m.s.").

    Same inputs and output as the masked decoder. The key/value sequence of every layer is
    ``[B, sum_l h_l*w_l, C]`` (each level projected, with its level embedding added, and its own sine
    positions); the attention mask is :func:`multi_level_attention_mask` of the last prediction.
    """

    tiny_config = dict(_TINY)

    def level_memories(self, features: Sequence[Tensor]) -> list[LevelMemory]:
        """One :class:`LevelMemory` of all levels concatenated along the key axis; ``size`` lists every
        level's ``(h_l, w_l)``."""
        levels = super().level_memories(features)
        src = torch.cat([m.src for m in levels], dim=1)
        pos = torch.cat([m.pos for m in levels], dim=1)
        return [LevelMemory(src, pos, [tuple(m.size) for m in levels])]

    def attention_mask(self, mask_logits: Tensor, size: Any) -> Optional[Tensor]:
        """:func:`multi_level_attention_mask` over the levels ``size`` lists (bool ``[B, 1, Q, sum h*w]``)."""
        return multi_level_attention_mask(mask_logits, size)


