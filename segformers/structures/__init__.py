"""The typed contracts between the stages of the data flow, in one package at the bottom of the house.

* stage outputs (``outputs``): ``backbone -> dict[str, Tensor]``, ``pixel decoder ->``
  :class:`PixelDecoderOutput`, ``transformer decoder ->`` :class:`DecoderOutput`, ground truth
  :class:`Targets`, matcher results ``MatchIndices``, and the Hugging Face-named :class:`SegmentationOutput`;
* feature specs (``shapes``): :class:`ShapeSpec`, the spec bank :class:`FeatureShapes`, the selection of
  a part's inputs by name and :func:`check_decoder_inputs`;
* matching (``matching``): :class:`MatchInputs` and the :class:`MatchCost` base class;
* the roles' protocols (``protocols``): :class:`Backbone`, :class:`PixelDecoder`,
  :class:`TransformerDecoder`, :class:`AuxiliaryHead`, :class:`Matcher`, :class:`PairCost`,
  :class:`ClassificationLoss`, :class:`MatchedMaskLoss`, :class:`Criterion`, :class:`Postprocessor`.
"""
from .matching import MatchCost, MatchInputs
from .outputs import DecoderOutput, MatchIndices, PixelDecoderOutput, SegDataSample, SegmentationOutput, Targets
from .protocols import (
    AuxiliaryHead, Backbone, ClassificationLoss, Criterion, MatchedMaskLoss, Matcher, PairCost, PixelDecoder,
    Postprocessor, TransformerDecoder,
)
from .shapes import (
    ENCODER, MASK_FEATURES, MULTI_SCALE, PIXEL_DECODER_OUTPUTS, FeatureShapes, ShapeSpec, SpecEntry,
    check_backbone_shapes, check_decoder_inputs, check_pixel_decoder_shapes, decoder_channels, select_features,
    select_shapes,
)

__all__ = [
    "PixelDecoderOutput", "DecoderOutput", "Targets", "MatchIndices", "SegDataSample", "SegmentationOutput",
    "ShapeSpec", "SpecEntry", "FeatureShapes", "MASK_FEATURES", "MULTI_SCALE", "ENCODER", "PIXEL_DECODER_OUTPUTS",
    "check_backbone_shapes", "check_pixel_decoder_shapes", "select_shapes", "decoder_channels", "select_features",
    "check_decoder_inputs", "MatchInputs", "MatchCost",
    "Backbone", "PixelDecoder", "TransformerDecoder", "AuxiliaryHead", "Matcher", "PairCost", "ClassificationLoss",
    "MatchedMaskLoss", "Criterion", "Postprocessor",
]
