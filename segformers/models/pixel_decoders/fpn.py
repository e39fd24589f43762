"""The FPN pixel decoder of MaskFormer (official ``BasePixelDecoder``) and the pieces it shares.

State-dict names follow the official code: the coarsest level's 3x3 conv is ``layer_{n}`` (``layer_4``
for res2..res5), the laterals are ``adapter_{i}`` / ``layer_{i}`` (``i = 1`` for res2), and the
per-pixel embedding is ``mask_features``.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from segformers.models.layers import Conv2dNormAct, c2_xavier_fill
from segformers.registry import PIXEL_DECODERS
from segformers.structures import PixelDecoderOutput

DEFAULT_IN_FEATURES = ("res2", "res3", "res4", "res5")


def sorted_in_features(
    owner: str, in_channels: dict[str, int], in_strides: dict[str, int], in_features: Sequence[str]
) -> list[str]:
    """``in_features`` sorted by stride (high -> low resolution), checked against the backbone's outputs."""
    missing = [f for f in in_features if f not in in_channels or f not in in_strides]
    if missing:
        raise ValueError(
            f"{owner}: in_features {list(in_features)} asks for {missing}, but the backbone provides "
            f"{sorted(in_channels)}. Set the pixel decoder's in_features (or the backbone's out_features) "
            "so that they agree."
        )
    if not in_features:
        raise ValueError(f"{owner}: in_features must name at least one backbone feature.")
    return sorted(in_features, key=lambda f: in_strides[f])


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
    if not 0 <= num_multi_scale_levels <= available:
        raise ValueError(
            f"{owner}: num_multi_scale_levels={num_multi_scale_levels}, but it produces only {available} "
            "feature maps. Lower num_multi_scale_levels or add input features."
        )


@PIXEL_DECODERS.register_module()
class FPNPixelDecoder(nn.Module):
    """Top-down FPN (official ``BasePixelDecoder``): backbone features -> per-pixel embeddings.

    ``forward({res2..res5}) -> PixelDecoderOutput`` with ``mask_features [B, mask_dim, H/4, W/4]`` (3x3
    conv on the finest FPN map), ``multi_scale_features`` = the first ``num_multi_scale_levels`` FPN maps
    (1/32, 1/16, 1/8), each ``[B, conv_dim, h, w]``, and no encoder features. Upsampling is nearest.
    """

    def __init__(
        self,
        *,
        in_channels: dict[str, int],
        in_strides: dict[str, int],
        in_features: Sequence[str] = DEFAULT_IN_FEATURES,
        conv_dim: int = 256,
        mask_dim: int = 256,
        norm: str = "GN",
        num_multi_scale_levels: int = 3,
    ) -> None:
        super().__init__()
        self.in_features = sorted_in_features(type(self).__name__, in_channels, in_strides, in_features)
        check_num_levels(type(self).__name__, num_multi_scale_levels, len(self.in_features))
        channels = [in_channels[f] for f in self.in_features]
        self.lateral_convs, self.output_convs = build_laterals(
            self, channels[:-1], conv_dim=conv_dim, norm=norm
        )
        self.add_module(f"layer_{len(channels)}", conv3x3(channels[-1], conv_dim, norm))
        self.mask_features = Conv2dNormAct(conv_dim, mask_dim, 3, padding=1)
        c2_xavier_fill(self.mask_features)
        self.mask_dim = mask_dim
        self.multi_scale_channels = conv_dim
        self.num_multi_scale_levels = num_multi_scale_levels
        self.encoder_channels: Optional[int] = None

    def forward(self, features: dict[str, Tensor]) -> PixelDecoderOutput:
        top = getattr(self, f"layer_{len(self.in_features)}")(features[self.in_features[-1]])
        laterals = [features[f] for f in self.in_features[-2::-1]]
        outs = top_down(top, laterals, self.lateral_convs, self.output_convs)
        return PixelDecoderOutput(
            mask_features=self.mask_features(outs[-1]),
            multi_scale_features=outs[: self.num_multi_scale_levels],
            encoder_features=None,
        )
