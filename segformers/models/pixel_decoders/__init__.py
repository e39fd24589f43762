"""Registered pixel decoders: FPN, FPN + transformer encoder, multi-scale deformable attention."""
from .fpn import FPNPixelDecoder
from .msdeformattn import MSDeformAttnPixelDecoder
from .transformer_encoder import TransformerEncoderPixelDecoder

__all__ = ["FPNPixelDecoder", "MSDeformAttnPixelDecoder", "TransformerEncoderPixelDecoder"]
