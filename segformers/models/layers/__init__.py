"""Building blocks shared by several components."""
from .conv import Conv2dNormAct, c2_xavier_fill
from .mlp import MLP
from .norm import FrozenBatchNorm2d, LayerNorm2d, build_norm
from .position_encoding import PositionEmbeddingSine

__all__ = [
    "Conv2dNormAct", "c2_xavier_fill", "MLP", "FrozenBatchNorm2d", "LayerNorm2d", "build_norm",
    "PositionEmbeddingSine",
]
