"""Registered transformer decoders: ``StandardTransformerDecoder`` (MaskFormer) and
``MultiScaleMaskedTransformerDecoder`` (Mask2Former, with its public steps and ``LevelMemory``)."""
from .detr import StandardTransformerDecoder
from .masked_attention import LevelMemory, MultiScaleMaskedTransformerDecoder, masked_attention_mask

__all__ = ["StandardTransformerDecoder", "MultiScaleMaskedTransformerDecoder", "LevelMemory", "masked_attention_mask"]
