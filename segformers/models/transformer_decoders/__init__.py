"""Registered transformer decoders: ``StandardTransformerDecoder`` (MaskFormer) and
``MultiScaleMaskedTransformerDecoder`` (Mask2Former)."""
from .detr import StandardTransformerDecoder
from .masked_attention import MultiScaleMaskedTransformerDecoder, masked_attention_mask

__all__ = ["StandardTransformerDecoder", "MultiScaleMaskedTransformerDecoder", "masked_attention_mask"]
