"""Mask2Former's pixel decoder: a deformable-attention encoder over res3..res5 plus one FPN step to 1/4.

Official ``MSDeformAttnPixelDecoder`` (state-dict names, init and order of operations). The official code
runs the whole forward in fp32 with autocast disabled; here, under autocast (``--amp bfloat16``), the
convolutions, projections and feed-forward layers run in the low precision and only the deformable sampling
(:class:`MSDeformAttn`'s float32 island) and the normalisation statistics stay in float32. Without autocast
nothing changes.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segformers.models.layers import PositionEmbeddingSine, c2_xavier_fill
from segformers.models.layers.fpn import (
    DEFAULT_IN_FEATURES, build_laterals, check_num_levels, fpn_output_shape, sorted_in_features, top_down,
)
from segformers.models.layers.ms_deform_attn import MSDeformAttn
from segformers.registry import PIXEL_DECODERS
from segformers.structures import PixelDecoderOutput, ShapeSpec, SpecEntry


class MSDeformAttnEncoderLayer(nn.Module):
    """Post-norm deformable encoder layer ``[B, S, C] -> [B, S, C]``: ``LN1(x + MSDA(x + pos))``, then FFN."""

    def __init__(
        self, *, d_model: int = 256, d_ffn: int = 1024, dropout: float = 0.0, num_levels: int = 3,
        num_heads: int = 8, num_points: int = 4,
    ) -> None:
        super().__init__()
        self.self_attn = MSDeformAttn(
            embed_dim=d_model, num_levels=num_levels, num_heads=num_heads, num_points=num_points
        )
        self.dropout1 = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, d_ffn)
        self.dropout2 = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ffn, d_model)
        self.dropout3 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(
        self, src: Tensor, pos: Tensor, reference_points: Tensor, spatial_shapes: list[tuple[int, int]]
    ) -> Tensor:
        attended = self.self_attn(src + pos, reference_points, src, spatial_shapes)
        src = self.norm1(src + self.dropout1(attended))
        ffn = self.linear2(self.dropout2(F.relu(self.linear1(src))))
        return self.norm2(src + self.dropout3(ffn))


class MSDeformAttnEncoder(nn.Module):
    """A stack of :class:`MSDeformAttnEncoderLayer` named ``layers.{n}``."""

    def __init__(self, *, num_layers: int, **layer_kwargs) -> None:
        super().__init__()
        self.layers = nn.ModuleList(MSDeformAttnEncoderLayer(**layer_kwargs) for _ in range(num_layers))

    def forward(
        self, src: Tensor, pos: Tensor, reference_points: Tensor, spatial_shapes: list[tuple[int, int]]
    ) -> Tensor:
        for layer in self.layers:
            src = layer(src, pos, reference_points, spatial_shapes)
        return src


def reference_points(shapes: list[tuple[int, int]], device: torch.device, dtype: torch.dtype) -> Tensor:
    """Pixel centres ``((x + 0.5) / W_l, (y + 0.5) / H_l)`` of every level, concatenated: ``[1, S, 1, 2]``."""
    points = []
    for h, w in shapes:
        y = (torch.arange(h, device=device, dtype=dtype) + 0.5) / h
        x = (torch.arange(w, device=device, dtype=dtype) + 0.5) / w
        points.append(torch.stack(torch.broadcast_tensors(x[None, :], y[:, None]), -1).reshape(-1, 2))
    return torch.cat(points, 0)[None, :, None, :]


class MSDeformAttnTransformerEncoderOnly(nn.Module):
    """Deformable encoder over L maps: ``srcs, pos (each [B, C, h_l, w_l]) -> [B, sum h_l*w_l, C]``.

    ``level_embed [L, C]`` is added to the positional term. Init: xavier-uniform on every >1-D parameter,
    then the :class:`MSDeformAttn` init, then ``normal_(level_embed)``.
    """

    def __init__(
        self, *, d_model: int = 256, nhead: int = 8, num_encoder_layers: int = 6, dim_feedforward: int = 1024,
        dropout: float = 0.0, num_feature_levels: int = 3, enc_n_points: int = 4,
    ) -> None:
        super().__init__()
        self.encoder = MSDeformAttnEncoder(
            num_layers=num_encoder_layers, d_model=d_model, d_ffn=dim_feedforward, dropout=dropout,
            num_levels=num_feature_levels, num_heads=nhead, num_points=enc_n_points,
        )
        self.level_embed = nn.Parameter(torch.empty(num_feature_levels, d_model))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for module in self.modules():
            if isinstance(module, MSDeformAttn):
                module.reset_parameters()
        nn.init.normal_(self.level_embed)

    def forward(self, srcs: list[Tensor], pos: list[Tensor]) -> Tensor:
        shapes = [(int(s.shape[-2]), int(s.shape[-1])) for s in srcs]
        src = torch.cat([s.flatten(2).transpose(1, 2) for s in srcs], 1)
        pos_flat = torch.cat(
            [p.flatten(2).transpose(1, 2) + embed.view(1, 1, -1) for p, embed in zip(pos, self.level_embed)], 1
        )
        ref = reference_points(shapes, src.device, src.dtype)
        return self.encoder(src, pos_flat, ref, shapes)


def fpn_in_features(
    owner: str, in_features: list[str], input_shape: Mapping[str, ShapeSpec], min_stride: int, common_stride: int
) -> list[str]:
    """The first ``log2(min_stride / common_stride)`` in_features, each checked to be finer than ``min_stride``."""
    num = int(math.log2(min_stride) - math.log2(common_stride))
    chosen = in_features[: max(num, 0)]
    if num < 0 or len(chosen) != num or any(input_shape[f].stride >= min_stride for f in chosen):
        raise ValueError(
            f"{owner}: going from stride {min_stride} to common_stride {common_stride} needs {num} in_features "
            f"finer than stride {min_stride}, got in_features {in_features} with strides "
            f"{[input_shape[f].stride for f in in_features]}. Adjust common_stride, transformer_in_features or "
            "in_features."
        )
    return chosen


@PIXEL_DECODERS.register_module()
class MSDeformAttnPixelDecoder(nn.Module):
    """Mask2Former pixel decoder: ``{res2..res5} -> PixelDecoderOutput``.

    ``input_proj.{i}`` (1x1 conv + GN, i = 0 for the coarsest of ``transformer_in_features``) -> deformable
    encoder -> maps 1/32, 1/16, 1/8; then ``adapter_1``/``layer_1`` add res2 with *bilinear* upsampling
    (one step per octave down to ``common_stride``). Returns ``mask_features [B, mask_dim, H/4, W/4]``
    (1x1 conv), ``multi_scale_features`` = encoder maps (1/32, 1/16, 1/8, ``[B, conv_dim, h, w]``) and
    ``encoder_features`` = the 1/32 encoder map.
    """

    # a small instance for the contract test (segformers.testing)
    tiny_config = dict(conv_dim=32, mask_dim=16, transformer_enc_layers=1, transformer_dim_feedforward=32)

    def __init__(
        self,
        *,
        input_shape: Mapping[str, ShapeSpec],
        in_features: Sequence[str] = DEFAULT_IN_FEATURES,
        conv_dim: int = 256,
        mask_dim: int = 256,
        norm: str = "GN",
        transformer_in_features: Sequence[str] = ("res3", "res4", "res5"),
        transformer_enc_layers: int = 6,
        transformer_nheads: int = 8,
        transformer_dim_feedforward: int = 1024,
        transformer_dropout: float = 0.0,
        num_points: int = 4,
        common_stride: int = 4,
        num_multi_scale_levels: int = 3,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.in_features = sorted_in_features(name, input_shape, in_features)
        self.transformer_in_features = sorted_in_features(name, input_shape, transformer_in_features)
        levels = self.transformer_in_features[::-1]  # low -> high resolution
        self.input_proj = nn.ModuleList(
            nn.Sequential(nn.Conv2d(input_shape[f].channels, conv_dim, 1), nn.GroupNorm(32, conv_dim)) for f in levels
        )
        for proj in self.input_proj:
            nn.init.xavier_uniform_(proj[0].weight, gain=1)
            nn.init.zeros_(proj[0].bias)
        self.transformer = MSDeformAttnTransformerEncoderOnly(
            d_model=conv_dim, nhead=transformer_nheads, num_encoder_layers=transformer_enc_layers,
            dim_feedforward=transformer_dim_feedforward, dropout=transformer_dropout,
            num_feature_levels=len(levels), enc_n_points=num_points,
        )
        self.pe_layer = PositionEmbeddingSine(conv_dim // 2, normalize=True)
        self.mask_features = nn.Conv2d(conv_dim, mask_dim, 1)
        c2_xavier_fill(self.mask_features)
        self.fpn_in_features = fpn_in_features(
            name, self.in_features, input_shape, input_shape[self.transformer_in_features[0]].stride, common_stride
        )
        fpn_channels = [input_shape[f].channels for f in self.fpn_in_features]
        self.lateral_convs, self.output_convs = build_laterals(self, fpn_channels, conv_dim=conv_dim, norm=norm)
        check_num_levels(name, num_multi_scale_levels, len(levels) + len(self.fpn_in_features))
        self.num_multi_scale_levels = num_multi_scale_levels
        strides = [input_shape[f].stride for f in levels + self.fpn_in_features[::-1]]  # low -> high resolution
        self._shape_args = (mask_dim, conv_dim, strides, num_multi_scale_levels, strides[0])

    def output_shape(self) -> dict[str, SpecEntry]:
        """``mask_features`` at the finest FPN stride, the encoder maps then FPN maps as ``multi_scale``
        (first ``num_multi_scale_levels``), ``encoder`` = the coarsest encoder map."""
        return fpn_output_shape(*self._shape_args)

    def forward(self, features: dict[str, Tensor]) -> PixelDecoderOutput:
        dtype = self.mask_features.weight.dtype
        srcs, pos = [], []
        for proj, f in zip(self.input_proj, self.transformer_in_features[::-1]):
            x = features[f].to(dtype)
            srcs.append(proj(x))
            pos.append(self.pe_layer(x))
        memory = self.transformer(srcs, pos)  # [B, S, C]
        b = memory.shape[0]
        outs = [
            level.transpose(1, 2).reshape(b, -1, *src.shape[-2:])
            for level, src in zip(memory.split([s.shape[-2] * s.shape[-1] for s in srcs], dim=1), srcs)
        ]
        laterals = [features[f].to(dtype) for f in self.fpn_in_features[::-1]]
        fpn = top_down(outs[-1], laterals, self.lateral_convs, self.output_convs, mode="bilinear")
        outs = outs + fpn[1:]
        return PixelDecoderOutput(
            mask_features=self.mask_features(outs[-1]),
            multi_scale_features=outs[: self.num_multi_scale_levels],
            encoder_features=outs[0],
        )
