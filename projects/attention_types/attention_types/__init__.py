"""Mask2Former's Table 4c attention types as plugins: SMCA-style spatially modulated cross-attention and
K-Net-style mask pooling, registered without touching ``segformers/``."""
from .mask_pooling import MaskPoolingDecoder, MaskPoolingLayer, mask_pool, pooling_weights
from .smca import SMCADecoder, gaussian_log_bias

__all__ = ["SMCADecoder", "gaussian_log_bias", "MaskPoolingDecoder", "MaskPoolingLayer", "mask_pool",
           "pooling_weights"]
