"""Data transforms (registered in ``segformers.registry.TRANSFORMS``)."""
from .base import BaseTransform, RandomTransform
from .compose import RandomChoice, TestTimeAug
from .formatting import PackSegInputs, segment_targets
from .geometric import (
    FixedSizeCrop,
    Pad,
    RandomCrop,
    RandomFlip,
    ResizeScale,
    ResizeShortestEdge,
    nearest_indices,
)
from .loading import LoadImageFromFile, LoadSegAnnotations, id2rgb, rgb2id
from .photometric import ColorAugSSD

__all__ = [
    "BaseTransform",
    "RandomTransform",
    "LoadImageFromFile",
    "LoadSegAnnotations",
    "ResizeShortestEdge",
    "ResizeScale",
    "FixedSizeCrop",
    "RandomCrop",
    "RandomFlip",
    "RandomChoice",
    "TestTimeAug",
    "Pad",
    "ColorAugSSD",
    "PackSegInputs",
    "segment_targets",
    "nearest_indices",
    "rgb2id",
    "id2rgb",
]
