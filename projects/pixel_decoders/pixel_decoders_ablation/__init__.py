"""Table 4e of Mask2Former (pixel decoders) as plugins: Semantic FPN, FaPN and BiFPN (FPN is the core's
``FPNPixelDecoder``), registered without touching ``segformers/``."""
from .bifpn import BiFPNLayer, BiFPNPixelDecoder, FusionNode
from .deform_conv import DeformConv2d, deform_conv2d
from .fapn import FaPNPixelDecoder, FeatureAlignment, FeatureSelection
from .semantic_fpn import SemanticFPNPixelDecoder

__all__ = ["SemanticFPNPixelDecoder", "FaPNPixelDecoder", "BiFPNPixelDecoder", "DeformConv2d", "deform_conv2d",
           "FeatureAlignment", "FeatureSelection", "FusionNode", "BiFPNLayer"]
