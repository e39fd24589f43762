"""Models: the MaskFormer meta-architecture and every registered component."""
from . import (  # noqa: F401
    aux_heads, backbones, losses, matchers, pixel_decoders, postprocess, transformer_decoders,
)
from .segmentor import MaskFormer
from .tta import SemanticTTAModel

__all__ = ["MaskFormer", "SemanticTTAModel"]
