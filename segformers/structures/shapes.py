"""Feature specs: what each part publishes (``output_shape()``) and what the segmentor injects.

A backbone publishes ``{name: ShapeSpec}`` (e.g. ``res2``..``res5``); a pixel decoder publishes
``mask_features`` (a :class:`ShapeSpec`), ``multi_scale`` (a list of them, low -> high resolution, maybe
empty) and, if it has one, ``encoder``. The segmentor merges both into one :class:`FeatureShapes` (the
"spec bank") and injects it as ``input_shape`` into the transformer decoder and the auxiliary head,
which pick what their ``in_feature`` names with :func:`select_shapes`. At forward time the same names
index the features themselves (:func:`select_features`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence, Union

from torch import Tensor

MASK_FEATURES, MULTI_SCALE, ENCODER = "mask_features", "multi_scale", "encoder"
PIXEL_DECODER_OUTPUTS = (MASK_FEATURES, MULTI_SCALE, ENCODER)


@dataclass(frozen=True)
class ShapeSpec:
    """One feature map's ``channels`` and ``stride`` (input pixels per feature pixel, e.g. 32 for 1/32)."""

    channels: int
    stride: int

    def __post_init__(self) -> None:
        if not (isinstance(self.channels, int) and isinstance(self.stride, int)) or min(self.channels, self.stride) < 1:
            raise ValueError(f"ShapeSpec needs positive int channels and stride, got {self.channels}, {self.stride}")


SpecEntry = Union[ShapeSpec, list[ShapeSpec]]


def check_backbone_shapes(owner: str, shapes: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` unless ``shapes`` is a non-empty ``{name: ShapeSpec}`` free of reserved names."""
    bad = [k for k, v in shapes.items() if not isinstance(v, ShapeSpec)]
    reserved = [k for k in shapes if k in PIXEL_DECODER_OUTPUTS]
    if not shapes or bad or reserved:
        raise ValueError(
            f"{owner}: output_shape() must map each output name to a ShapeSpec(channels, stride); got "
            f"{dict(shapes)}. Names {list(PIXEL_DECODER_OUTPUTS)} are the pixel decoder's."
        )


def check_pixel_decoder_shapes(owner: str, shapes: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` unless ``shapes`` has a ``mask_features`` spec, a ``multi_scale`` list ordered
    low -> high resolution (strictly decreasing strides) and at most an ``encoder`` spec besides."""
    extra = [k for k in shapes if k not in PIXEL_DECODER_OUTPUTS]
    levels = shapes.get(MULTI_SCALE)
    levels_ok = isinstance(levels, list) and all(isinstance(spec, ShapeSpec) for spec in levels)
    encoder_ok = ENCODER not in shapes or isinstance(shapes[ENCODER], ShapeSpec)
    if extra or not isinstance(shapes.get(MASK_FEATURES), ShapeSpec) or not levels_ok or not encoder_ok:
        raise ValueError(
            f"{owner}: output_shape() must hold 'mask_features': ShapeSpec, 'multi_scale': [ShapeSpec, ...] "
            f"(may be empty) and optionally 'encoder': ShapeSpec, nothing else; got {dict(shapes)}."
        )
    strides = [s.stride for s in levels]
    if any(b >= a for a, b in zip(strides, strides[1:])):
        raise ValueError(
            f"{owner}: multi_scale levels must be ordered low -> high resolution (strides decreasing, e.g. "
            f"[32, 16, 8]), got strides {strides}. Return multi_scale_features coarsest first."
        )


class FeatureShapes(dict):
    """The spec bank: a backbone's and a pixel decoder's ``output_shape()`` under one roof.

    A plain ``dict`` (``name -> ShapeSpec``, ``"multi_scale" -> list[ShapeSpec]``) that also knows who
    published what, so that a part that cannot find its input can say which part to change.
    """

    def __init__(self, backbone: Mapping[str, ShapeSpec], pixel_decoder: Mapping[str, SpecEntry], *,
                 backbone_name: str = "the backbone", pixel_decoder_name: str = "the pixel decoder") -> None:
        check_backbone_shapes(backbone_name, backbone)
        check_pixel_decoder_shapes(pixel_decoder_name, pixel_decoder)
        super().__init__({**backbone, **{k: (list(v) if isinstance(v, list) else v) for k, v in pixel_decoder.items()}})
        self.backbone_outputs = sorted(backbone)
        self.backbone_name, self.pixel_decoder_name = backbone_name, pixel_decoder_name


def _names(input_shape: Mapping[str, Any]) -> tuple[list[str], str]:
    if isinstance(input_shape, FeatureShapes):
        return input_shape.backbone_outputs, input_shape.pixel_decoder_name
    return sorted(k for k in input_shape if k not in PIXEL_DECODER_OUTPUTS), "the pixel decoder"


def select_shapes(owner: str, input_shape: Mapping[str, Any], in_feature: str, num_levels: int = 1) -> list[ShapeSpec]:
    """The specs of the ``num_levels`` maps that ``in_feature`` names in ``input_shape``.

    ``"multi_scale"`` gives its first ``num_levels`` levels (low -> high resolution); any other name (a
    backbone output, ``"mask_features"``, ``"encoder"``) exactly one map. Raises ``ValueError`` naming
    ``owner``, the value and the fix.
    """
    backbone_outputs, pixel_decoder = _names(input_shape)
    if in_feature not in input_shape:
        if in_feature in PIXEL_DECODER_OUTPUTS:
            raise ValueError(
                f"{owner} reads in_feature={in_feature!r}, but {pixel_decoder} returns no {in_feature} features. "
                "Use TransformerEncoderPixelDecoder or set in_feature to 'res5' / 'multi_scale'."
            )
        raise ValueError(
            f"{owner} reads in_feature={in_feature!r}, which is neither 'multi_scale', 'encoder', "
            f"'mask_features' nor a backbone output {backbone_outputs}."
        )
    entry = input_shape[in_feature]
    if isinstance(entry, list):
        if len(entry) < num_levels:
            raise ValueError(
                f"{owner} needs {num_levels} multi-scale feature levels, but {pixel_decoder} provides "
                f"{len(entry)}. Choose a pixel decoder with at least {num_levels} levels or a decoder that "
                "reads fewer (num_feature_levels)."
            )
        return list(entry[:num_levels])
    if num_levels != 1:
        raise ValueError(
            f"{owner} needs {num_levels} feature levels, but in_feature={in_feature!r} provides exactly 1. "
            "Use in_feature='multi_scale' with a multi-scale pixel decoder (e.g. MSDeformAttnPixelDecoder)."
        )
    return [entry]


def decoder_channels(owner: str, input_shape: Mapping[str, Any], in_feature: str, num_levels: int) -> tuple[int, int]:
    """``(in_channels, mask_dim)`` of a transformer decoder: the one channel count of its ``num_levels``
    input maps and the channels of ``mask_features``."""
    specs = select_shapes(owner, input_shape, in_feature, num_levels)
    channels = sorted({s.channels for s in specs})
    if len(channels) != 1:
        raise ValueError(f"{owner}: the {num_levels} levels of {in_feature!r} have different channels "
                         f"{channels}; give the pixel decoder one width for all levels.")
    return channels[0], select_shapes(owner, input_shape, MASK_FEATURES)[0].channels


def select_features(features: Mapping[str, Any], in_feature: str, num_levels: int = 1) -> list[Tensor]:
    """The forward-time twin of :func:`select_shapes`: the maps themselves, as a list."""
    entry = features[in_feature]
    return list(entry[:num_levels]) if isinstance(entry, (list, tuple)) else [entry]


def check_decoder_inputs(decoder: Any, features: Sequence[Tensor], mask_features: Tensor) -> None:
    """Raise ``ValueError`` naming the problem if the inputs do not fit ``decoder``'s contract.

    Reads ``decoder.num_feature_levels``, ``in_feature``, ``in_channels`` and ``mask_dim``: ``features`` must be
    ``num_feature_levels`` maps ``[B, in_channels, h_l, w_l]`` ordered low -> high resolution and
    ``mask_features`` ``[B, mask_dim, H/4, W/4]``.
    """
    name, levels = type(decoder).__name__, decoder.num_feature_levels
    if not isinstance(features, (list, tuple)) or len(features) != levels:
        got = f"{len(features)} maps" if isinstance(features, (list, tuple)) else type(features).__name__
        raise ValueError(
            f"{name} (in_feature={decoder.in_feature!r}) expects a list of {levels} feature map(s) ordered "
            f"low -> high resolution, got {got}. Wrap a single map as [x] or set num_feature_levels."
        )
    for i, x in enumerate(features):
        if x.ndim != 4 or x.shape[1] != decoder.in_channels:
            raise ValueError(
                f"{name}: features[{i}] must be [B, in_channels={decoder.in_channels}, h, w], got "
                f"{tuple(x.shape)}. in_channels must be the channels of in_feature={decoder.in_feature!r}."
            )
    areas = [x.shape[-2] * x.shape[-1] for x in features]
    if any(b < a for a, b in zip(areas, areas[1:])):
        raise ValueError(f"{name}: features must be ordered low -> high resolution, got sizes "
                         f"{[tuple(x.shape[-2:]) for x in features]}.")
    if mask_features.ndim != 4 or mask_features.shape[1] != decoder.mask_dim:
        raise ValueError(
            f"{name}: mask_features must be [B, mask_dim={decoder.mask_dim}, H/4, W/4], got "
            f"{tuple(mask_features.shape)}. mask_dim must equal the pixel decoder's mask_dim."
        )
    if mask_features.shape[0] != features[0].shape[0]:
        raise ValueError(
            f"{name}: batch sizes differ: features {features[0].shape[0]}, mask_features {mask_features.shape[0]}."
        )
