"""A plain convolutional backbone: four stages of stride-2 3x3 conv blocks (a VGG-like toy, not a paper's)."""
from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from segformers.models.layers import Conv2dNormAct
from segformers.registry import BACKBONES
from segformers.structures import ShapeSpec

STAGES = ("res2", "res3", "res4", "res5")


@BACKBONES.register_module()
class PlainConvBackbone(nn.Module):
    """``x [B, 3, H, W] -> {"res2": [B, widths[0], H/4, W/4], ..., "res5": [B, widths[3], H/32, W/32]}``.

    A stride-4 stem (two stride-2 convs), then one stride-2 conv per later stage, each followed by
    ``depth - 1`` stride-1 convs; every conv is 3x3 -> BN -> ReLU. Any input size works (strides round up).
    """

    size_divisibility = 1

    def __init__(self, *, widths: Sequence[int] = (32, 64, 128, 256), depth: int = 2) -> None:
        super().__init__()
        if len(widths) != 4 or depth < 1:
            raise ValueError(f"PlainConvBackbone: widths needs 4 entries and depth >= 1, got {widths}, {depth}.")
        cin, blocks = 3, []
        for i, width in enumerate(widths):
            strides = ([2, 2] if i == 0 else [2]) + [1] * (depth - 1)
            convs = []
            for s in strides:
                convs.append(Conv2dNormAct(cin, width, 3, stride=s, padding=1, norm="BN", activation=F.relu))
                cin = width
            blocks.append(nn.Sequential(*convs))
        self.stages = nn.ModuleList(blocks)
        self._shapes = {name: ShapeSpec(int(w), 4 * 2**i) for i, (name, w) in enumerate(zip(STAGES, widths))}

    def output_shape(self) -> dict[str, ShapeSpec]:
        return dict(self._shapes)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        out = {}
        for name, stage in zip(STAGES, self.stages):
            x = stage(x)
            out[name] = x
        return out
