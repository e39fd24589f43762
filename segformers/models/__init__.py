"""Models: the MaskFormer meta-architecture and every registered component."""
from . import backbones, losses, matchers, pixel_decoders, postprocess, transformer_decoders  # noqa: F401
from .segmentor import MaskFormer

__all__ = ["MaskFormer"]
