"""BiFPN (EfficientDet, Tan et al., CVPR 2020) as a pixel decoder (Mask2Former Table 4e): repeated top-down
and bottom-up passes whose nodes fuse their inputs with fast normalised weights."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segformers.models.layers import Conv2dNormAct, build_norm, c2_xavier_fill
from segformers.models.layers.fpn import (
    DEFAULT_IN_FEATURES, check_num_levels, fpn_output_shape, lateral1x1, sorted_in_features,
)
from segformers.registry import PIXEL_DECODERS
from segformers.structures import PixelDecoderOutput, ShapeSpec, SpecEntry

from .coarse_encoder import build_coarse_encoder


class FusionNode(nn.Module):
    """One BiFPN node: ``conv(SiLU(sum_i w_i x_i / (sum_i w_i + eps)))`` with ``w = ReLU(weights)``.

    ``conv`` is depthwise 3x3 + pointwise 1x1 (``separable``, EfficientDet) or a plain 3x3 conv, then the norm.
    ``forward(inputs: list of [B, C, h, w])`` (already resampled to one size) -> ``[B, C, h, w]``.
    """

    def __init__(self, channels: int, num_inputs: int, *, norm: str, separable: bool, eps: float = 1e-4) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.ones(num_inputs))
        self.eps = eps
        if separable:
            self.depthwise = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
            self.pointwise = Conv2dNormAct(channels, channels, 1, norm=norm)
        else:
            self.depthwise = nn.Identity()
            self.pointwise = Conv2dNormAct(channels, channels, 3, padding=1, norm=norm)
        c2_xavier_fill(self.pointwise)

    def fusion_weights(self) -> Tensor:
        """``[num_inputs]`` non-negative weights summing to ``1 - eps / (sum + eps)`` (fast normalised fusion)."""
        w = F.relu(self.weights)
        return w / (w.sum() + self.eps)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        w = self.fusion_weights()
        fused = sum(w[i] * x for i, x in enumerate(inputs))
        return self.pointwise(self.depthwise(F.silu(fused)))


def _resize(x: Tensor, size: Sequence[int], *, down: bool) -> Tensor:
    """2x max-pool (``down``) or nearest upsampling to ``size``; a size off by the rounding is interpolated."""
    if down:
        x = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=tuple(size), mode="nearest")
    return x


class BiFPNLayer(nn.Module):
    """One top-down + bottom-up pass over ``L`` maps ``[B, C, h_l, w_l]`` ordered low -> high resolution.

    Top-down: ``t_0 = p_0``, ``t_l = node(p_l, up(t_{l-1}))``; bottom-up: ``o_{L-1} = t_{L-1}``,
    ``o_l = node(p_l, t_l, down(o_{l+1}))`` for the middle levels, ``o_0 = node(p_0, down(o_1))``.
    """

    def __init__(self, channels: int, num_levels: int, *, norm: str, separable: bool) -> None:
        super().__init__()
        if num_levels < 2:
            raise ValueError(f"BiFPNLayer needs at least 2 levels, got {num_levels}")
        kw = dict(norm=norm, separable=separable)
        self.top_down = nn.ModuleList(FusionNode(channels, 2, **kw) for _ in range(num_levels - 1))
        self.bottom_up = nn.ModuleList(
            FusionNode(channels, 2 if level == 0 else 3, **kw) for level in range(num_levels - 1))

    def forward(self, maps: Sequence[Tensor]) -> list[Tensor]:
        td = [maps[0]]
        for level in range(1, len(maps)):
            up = _resize(td[-1], maps[level].shape[-2:], down=False)
            td.append(self.top_down[level - 1]([maps[level], up]))
        outs = [td[-1]]
        for level in range(len(maps) - 2, -1, -1):
            down = _resize(outs[0], maps[level].shape[-2:], down=True)
            inputs = [maps[level], down] if level == 0 else [maps[level], td[level], down]
            outs.insert(0, self.bottom_up[level](inputs))
        return outs


@PIXEL_DECODERS.register_module()
class BiFPNPixelDecoder(nn.Module):
    """BiFPN: 1x1 conv + norm laterals to ``conv_dim``, ``num_repeats`` :class:`BiFPNLayer` passes, a 3x3 conv.

    ``forward({res2..res5}) -> PixelDecoderOutput``: ``mask_features [B, mask_dim, H/4, W/4]`` (3x3 conv on the
    finest output), ``multi_scale_features`` = the first ``num_multi_scale_levels`` outputs (1/32, 1/16, 1/8),
    each ``[B, conv_dim, h, w]``; encoder features only with the encoder option (below).

    Args: ``input_shape`` (injected), ``in_features``, ``conv_dim``, ``mask_dim``, ``norm`` (after every conv;
    EfficientDet uses BN), ``num_multi_scale_levels``, ``num_repeats`` (BiFPN layers), ``separable``
    (depthwise-separable node convs as EfficientDet, else plain 3x3 convs), ``transformer_enc_layers``
    (default 0): above 0, that many DETR encoder layers (``transformer_nheads``, ``transformer_dim_feedforward``,
    ``transformer_dropout``) on the coarsest lateral before the passes; their output is ``encoder_features``.
    """

    tiny_config = dict(conv_dim=32, mask_dim=16, num_repeats=2)

    def __init__(
        self, *, input_shape: Mapping[str, ShapeSpec], in_features: Sequence[str] = DEFAULT_IN_FEATURES,
        conv_dim: int = 256, mask_dim: int = 256, norm: str = "GN", num_multi_scale_levels: int = 3,
        num_repeats: int = 1, separable: bool = True, transformer_enc_layers: int = 0, transformer_nheads: int = 8,
        transformer_dim_feedforward: int = 2048, transformer_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.in_features = sorted_in_features(name, input_shape, in_features)[::-1]  # low -> high resolution
        check_num_levels(name, num_multi_scale_levels, len(self.in_features))
        if num_repeats < 1:
            raise ValueError(f"{name}: num_repeats must be >= 1, got {num_repeats}.")
        build_norm(norm, conv_dim)  # an unknown norm name fails here, with the list of names
        self.laterals = nn.ModuleList(lateral1x1(input_shape[f].channels, conv_dim, norm) for f in self.in_features)
        self.layers = nn.ModuleList(
            BiFPNLayer(conv_dim, len(self.in_features), norm=norm, separable=separable) for _ in range(num_repeats))
        self.encoder = build_coarse_encoder(
            name, conv_dim, transformer_enc_layers, nheads=transformer_nheads,
            dim_feedforward=transformer_dim_feedforward, dropout=transformer_dropout,
        )
        self.mask_features = Conv2dNormAct(conv_dim, mask_dim, 3, padding=1)
        c2_xavier_fill(self.mask_features)
        self.num_multi_scale_levels = num_multi_scale_levels
        strides = [input_shape[f].stride for f in self.in_features]
        self._shape_args = (mask_dim, conv_dim, strides, num_multi_scale_levels, strides[0] if self.encoder else 0)

    def output_shape(self) -> dict[str, SpecEntry]:
        """``mask_features`` at the finest input stride, the first ``num_multi_scale_levels`` outputs (and
        ``encoder`` at the coarsest stride with the encoder option)."""
        return fpn_output_shape(*self._shape_args)

    def forward(self, features: dict[str, Tensor]) -> PixelDecoderOutput:
        maps = [lateral(features[f]) for lateral, f in zip(self.laterals, self.in_features)]
        encoded = None if self.encoder is None else self.encoder(maps[0])
        if encoded is not None:
            maps[0] = encoded
        for layer in self.layers:
            maps = layer(maps)
        return PixelDecoderOutput(
            mask_features=self.mask_features(maps[-1]),
            multi_scale_features=maps[: self.num_multi_scale_levels],
            encoder_features=encoded,
        )
