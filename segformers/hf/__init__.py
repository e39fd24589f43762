"""transformers-style MaskFormer / Mask2Former classes over segformers models (``docs/hf_model.md``).

``Mask2FormerForUniversalSegmentation.from_pretrained(DIR)`` / ``MaskFormerForInstanceSegmentation
.from_pretrained(DIR)`` read a local ``save_pretrained`` folder (or a converted segformers folder), take
transformers' call (``pixel_values``, ``mask_labels``, ``class_labels``, ...) and return its output fields;
``save_pretrained(DIR)`` writes a folder transformers loads. ``transformers`` itself is not needed.
"""
from .modeling import HFConfig, Mask2FormerForUniversalSegmentation, MaskFormerForInstanceSegmentation
from .outputs import Mask2FormerForUniversalSegmentationOutput, MaskFormerForInstanceSegmentationOutput

__all__ = [
    "HFConfig",
    "Mask2FormerForUniversalSegmentation",
    "Mask2FormerForUniversalSegmentationOutput",
    "MaskFormerForInstanceSegmentation",
    "MaskFormerForInstanceSegmentationOutput",
]
