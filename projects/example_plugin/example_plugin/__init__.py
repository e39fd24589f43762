"""Example segformers plugin: registers ``LiteFPNPixelDecoder`` and ``PlainConvBackbone`` without touching
``segformers/``."""
from .conv_backbone import PlainConvBackbone
from .lite_fpn import LiteFPNPixelDecoder

__all__ = ["LiteFPNPixelDecoder", "PlainConvBackbone"]
