"""Example segformers plugin: registers ``LiteFPNPixelDecoder`` without touching ``segformers/``."""
from .lite_fpn import LiteFPNPixelDecoder

__all__ = ["LiteFPNPixelDecoder"]
