"""Building blocks shared by several components (and open to plugins).

``fpn``: the FPN blocks of the pixel decoders; ``transformer``: Mask2Former's and DETR's transformer layers;
``attention``: multi-head attention on SDPA with ``nn.MultiheadAttention``'s names.
"""
from .conv import Conv2dNormAct, c2_xavier_fill
from .fpn import build_laterals, check_num_levels, conv3x3, fpn_output_shape, lateral1x1, sorted_in_features, top_down
from .mlp import MLP
from .norm import FrozenBatchNorm2d, LayerNorm2d, build_norm
from .position_encoding import PositionEmbeddingSine
from .transformer import (
    CrossAttentionLayer, DetrDecoderLayer, DetrEncoder, DetrEncoderLayer, DetrTransformerDecoder, FFNLayer,
    SelfAttentionLayer,
)

__all__ = [
    "Conv2dNormAct", "c2_xavier_fill", "MLP", "FrozenBatchNorm2d", "LayerNorm2d", "build_norm",
    "PositionEmbeddingSine", "sorted_in_features", "conv3x3", "lateral1x1", "build_laterals", "top_down",
    "check_num_levels", "fpn_output_shape", "SelfAttentionLayer", "CrossAttentionLayer", "FFNLayer",
    "DetrDecoderLayer", "DetrTransformerDecoder", "DetrEncoderLayer", "DetrEncoder",
]
