"""Mask2Former's decoder with standard cross-attention instead of masked attention."""
from __future__ import annotations

from typing import Any, Optional

from torch import Tensor

from segformers.models.transformer_decoders import MultiScaleMaskedTransformerDecoder
from segformers.registry import TRANSFORMER_DECODERS


@TRANSFORMER_DECODERS.register_module()
class PlainCrossAttentionDecoder(MultiScaleMaskedTransformerDecoder):
    """``MultiScaleMaskedTransformerDecoder`` whose queries attend to every location of their level.

    Mask2Former's Table 4a/4c "cross-attention" row. Only the public attention-mask step changes: the
    layers, heads, round-robin levels, predictions and state-dict names are the masked decoder's, so its
    checkpoints load either way.
    """

    def attention_mask(self, mask_logits: Tensor, size: Any) -> Optional[Tensor]:
        return None
