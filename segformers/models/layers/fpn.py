"""FPN building blocks shared by the pixel decoders (and open to plugins).

The official state-dict names come from :func:`build_laterals`: ``adapter_{i}`` (1x1 lateral) and
``layer_{i}`` (3x3 output), ``i = 1`` for the finest level.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from segformers.structures import ShapeSpec

from .conv import Conv2dNormAct, c2_xavier_fill

DEFAULT_IN_FEATURES = ("res2", "res3", "res4", "res5")


def sorted_in_features(owner: str, input_shape: Mapping[str, ShapeSpec], in_features: Sequence[str]) -> list[str]:
    """``in_features`` sorted by stride (high -> low resolution), checked against the backbone's outputs."""
    missing = [f for f in in_features if f not in input_shape]
    if missing:
        raise ValueError(
            f"{owner}: in_features {list(in_features)} asks for {missing}, but the backbone provides "
            f"{sorted(input_shape)}. Set the pixel decoder's in_features (or the backbone's out_features) "
            "so that they agree."
        )
    if not in_features:
        raise ValueError(f"{owner}: in_features must name at least one backbone feature.")
    return sorted(in_features, key=lambda f: input_shape[f].stride)


def conv3x3(in_channels: int, conv_dim: int, norm: str) -> Conv2dNormAct:
    """The FPN output conv: ``Conv3x3 (bias only without norm) -> norm -> ReLU``, caffe2-xavier init."""
    conv = Conv2dNormAct(in_channels, conv_dim, 3, padding=1, norm=norm, activation=F.relu)
    c2_xavier_fill(conv)
    return conv


def lateral1x1(in_channels: int, conv_dim: int, norm: str) -> Conv2dNormAct:
    """The FPN lateral conv: ``Conv1x1 (bias only without norm) -> norm``, caffe2-xavier init."""
    conv = Conv2dNormAct(in_channels, conv_dim, 1, norm=norm)
    c2_xavier_fill(conv)
    return conv


def build_laterals(
    owner: nn.Module, channels: Sequence[int], *, conv_dim: int, norm: str
) -> tuple[list[nn.Module], list[nn.Module]]:
    """Register ``adapter_{i}`` / ``layer_{i}`` (``i = 1`` for the finest level) on ``owner``.

    Returns the (adapter, layer) lists ordered low -> high resolution, the order of the top-down pass.
    """
    adapters, layers = [], []
    for idx, c in enumerate(channels):
        adapter, layer = lateral1x1(c, conv_dim, norm), conv3x3(conv_dim, conv_dim, norm)
        owner.add_module(f"adapter_{idx + 1}", adapter)
        owner.add_module(f"layer_{idx + 1}", layer)
        adapters.append(adapter)
        layers.append(layer)
    return adapters[::-1], layers[::-1]


def top_down(
    top: Tensor, laterals: Sequence[Tensor], adapters: Sequence[nn.Module], layers: Sequence[nn.Module],
    *, mode: str = "nearest",
) -> list[Tensor]:
    """``y = layer(adapter(x) + up(y))`` from ``top`` down through ``laterals`` (low -> high resolution).

    Returns ``[top, y_1, ..., y_k]``, each ``[B, conv_dim, h_l, w_l]``.
    """
    outs = [top]
    kwargs = {} if mode == "nearest" else {"align_corners": False}
    for x, adapter, layer in zip(laterals, adapters, layers):
        cur = adapter(x)
        outs.append(layer(cur + F.interpolate(outs[-1], size=cur.shape[-2:], mode=mode, **kwargs)))
    return outs


def check_num_levels(owner: str, num_multi_scale_levels: int, available: int) -> None:
    """Raise ``ValueError`` unless ``0 <= num_multi_scale_levels <= available``."""
    if not 0 <= num_multi_scale_levels <= available:
        raise ValueError(
            f"{owner}: num_multi_scale_levels={num_multi_scale_levels}, but it produces only {available} "
            "feature maps. Lower num_multi_scale_levels or add input features."
        )


def fpn_output_shape(
    mask_dim: int, conv_dim: int, strides: Sequence[int], num_multi_scale_levels: int, encoder_stride: int = 0
) -> dict:
    """A top-down decoder's ``output_shape()``: ``mask_features`` at the finest of ``strides`` (given low ->
    high resolution), their first ``num_multi_scale_levels`` as ``multi_scale``, and ``encoder`` at
    ``encoder_stride`` if it is not 0."""
    shapes: dict = {
        "mask_features": ShapeSpec(mask_dim, strides[-1]),
        "multi_scale": [ShapeSpec(conv_dim, s) for s in strides[:num_multi_scale_levels]],
    }
    if encoder_stride:
        shapes["encoder"] = ShapeSpec(conv_dim, encoder_stride)
    return shapes
