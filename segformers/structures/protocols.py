"""The contract of every research role, as ``typing.Protocol``s (checked by ``segformers.testing``).

A part honours its role by shape, not by inheritance: nothing here must be subclassed (match costs
derive from :class:`~segformers.structures.MatchCost` for its weighting and shape check). What a part
receives at build time is injected by its owner as keyword arguments (``default_args``), never set in
a config:

============================  =====================================================================
role (registry)               injected keyword arguments
============================  =====================================================================
backbone (BACKBONES)          none
pixel decoder                 ``input_shape``: the backbone's ``output_shape()``
transformer decoder           ``num_classes``, ``input_shape``: the spec bank (:class:`FeatureShapes`)
auxiliary head (AUX_HEADS)    ``num_classes``, ``input_shape``: the spec bank
criterion (CRITERIA)          ``num_classes``
class loss (LOSSES)           ``num_classes`` (by the criterion)
matcher, match cost, mask     none
loss, postprocessor
============================  =====================================================================
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from torch import Tensor

from .matching import MatchInputs
from .outputs import DecoderOutput, MatchIndices, PixelDecoderOutput, Targets
from .shapes import ShapeSpec, SpecEntry


@runtime_checkable
class Backbone(Protocol):
    """``images [B, 3, H, W] -> {name: [B, C, H/stride, W/stride]}`` for every name of ``output_shape()``.

    ``size_divisibility``: ``H`` and ``W`` must be multiples of it for the backbone to work (1: any size);
    the segmentor checks that the data preprocessor pads to a multiple of it.
    """

    size_divisibility: int

    def output_shape(self) -> dict[str, ShapeSpec]: ...

    def __call__(self, images: Tensor) -> dict[str, Tensor]: ...


@runtime_checkable
class PixelDecoder(Protocol):
    """``{name: [B, C, h, w]}`` (the backbone's outputs) -> :class:`PixelDecoderOutput`.

    ``output_shape()`` declares every output: ``mask_features``, ``multi_scale`` (list, low -> high
    resolution, may be empty) and ``encoder`` only if it returns encoder features.
    """

    def output_shape(self) -> dict[str, SpecEntry]: ...

    def __call__(self, features: dict[str, Tensor]) -> PixelDecoderOutput: ...


@runtime_checkable
class TransformerDecoder(Protocol):
    """``(features: num_feature_levels x [B, C, h_l, w_l] low -> high resolution, mask_features
    [B, mask_dim, H/4, W/4]) -> DecoderOutput`` with every layer's prediction, final last.

    ``in_feature`` names what it reads in the spec bank: ``"multi_scale"`` (the first
    ``num_feature_levels`` levels), ``"encoder"``, ``"mask_features"`` or a backbone output.
    """

    in_feature: str
    num_feature_levels: int

    def __call__(self, features: list[Tensor], mask_features: Tensor) -> DecoderOutput: ...


@runtime_checkable
class AuxiliaryHead(Protocol):
    """Training-only head on one map of the spec bank: ``loss(x [B, C, h, w], targets) -> {"loss_*": scalar}``."""

    in_feature: str

    def loss(self, x: Tensor, targets: Sequence[Targets]) -> dict[str, Tensor]: ...


@runtime_checkable
class Matcher(Protocol):
    """``(class_logits [B, Q, K+1], mask_logits [B, Q, h, w], targets) -> MatchIndices`` (one pair per image)."""

    def __call__(self, class_logits: Tensor, mask_logits: Tensor, targets: Sequence[Targets]) -> MatchIndices: ...


@runtime_checkable
class PairCost(Protocol):
    """A match cost: ``MatchInputs -> [Q, N]`` float32, already multiplied by ``weight``."""

    weight: float

    def __call__(self, inputs: MatchInputs) -> Tensor: ...


@runtime_checkable
class ClassificationLoss(Protocol):
    """``(class_logits [B, Q, K+1], target_classes [B, Q] in [0, K]) -> scalar`` (unweighted).

    The criterion reports it as ``loss_{name}`` times ``loss_weight``.
    """

    name: str
    loss_weight: float
    num_classes: int

    def __call__(self, class_logits: Tensor, target_classes: Tensor) -> Tensor: ...


@runtime_checkable
class MatchedMaskLoss(Protocol):
    """``(logits [M, P], labels [M, P], num_masks) -> scalar`` over the ``M`` matched pairs (unweighted)."""

    name: str
    loss_weight: float

    def __call__(self, logits: Tensor, labels: Tensor, num_masks: float) -> Tensor: ...


@runtime_checkable
class Criterion(Protocol):
    """``(DecoderOutput, targets) -> {"loss_*": weighted scalar}``; it alone decides which layers it supervises."""

    def __call__(self, outputs: DecoderOutput, targets: Sequence[Targets]) -> dict[str, Tensor]: ...


@runtime_checkable
class Postprocessor(Protocol):
    """One image: ``(class_logits [Q, K+1], mask_logits [Q, h, w], metainfo) -> results`` (a dict with any of
    ``sem_seg [K, H, W]``, ``panoptic_seg (ids [H, W], segments_info)``, ``instances``) at ``ori_shape``."""

    def __call__(self, class_logits: Tensor, mask_logits: Tensor, metainfo: dict) -> dict: ...
