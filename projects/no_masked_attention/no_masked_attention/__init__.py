"""Mask2Former without masked attention (the paper's Table 4 ablation), registered without touching ``segformers/``."""
from .decoder import PlainCrossAttentionDecoder

__all__ = ["PlainCrossAttentionDecoder"]
