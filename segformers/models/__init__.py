"""Models: the MaskFormer meta-architecture and every registered component."""
from . import backbones, losses, matchers, pixel_decoders, transformer_decoders  # noqa: F401
