"""Hugging Face-compatible image processors for MaskFormer / Mask2Former (no transformers needed).

``MaskFormerImageProcessor`` and ``Mask2FormerImageProcessor`` are one implementation under two
names: ``preprocess`` / ``__call__`` / ``encode_inputs`` build ``pixel_values``, ``pixel_mask``,
``mask_labels`` and ``class_labels``; ``post_process_{semantic,instance,panoptic}_segmentation``
turn ``class_queries_logits`` / ``masks_queries_logits`` into results. See ``docs/hf_processor.md``.
"""
from .config import ProcessorOutput
from .labels import segmentation_map_to_binary_masks
from .postprocess import SemanticSegmentationResult, masks_to_coco_rle
from .processor import (
    Mask2FormerImageProcessor, Mask2FormerImageProcessorFast, MaskFormerImageProcessor, MaskFormerImageProcessorFast,
)

__all__ = [
    "Mask2FormerImageProcessor",
    "Mask2FormerImageProcessorFast",
    "MaskFormerImageProcessor",
    "MaskFormerImageProcessorFast",
    "ProcessorOutput",
    "SemanticSegmentationResult",
    "masks_to_coco_rle",
    "segmentation_map_to_binary_masks",
]
