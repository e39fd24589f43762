"""``Conv2d`` with an optional norm and activation, keeping detectron2's state-dict names.

``Conv2dNormAct(...)`` stores its weight as ``<name>.weight`` and its norm as ``<name>.norm.*``, the
layout of the official checkpoints (``adapter_1.weight``, ``adapter_1.norm.weight``).
"""
from __future__ import annotations

from typing import Callable, Optional

from torch import Tensor, nn

from .norm import build_norm


class Conv2dNormAct(nn.Conv2d):
    """``Conv2d -> norm -> activation`` on ``[B, C_in, H, W] -> [B, C_out, H', W']``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
        bias: Optional[bool] = None,
        norm: Optional[str] = "",
        activation: Optional[Callable[[Tensor], Tensor]] = None,
    ) -> None:
        norm_layer = build_norm(norm, out_channels)
        if bias is None:
            bias = norm_layer is None
        super().__init__(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=groups, bias=bias,
        )
        self.norm = norm_layer
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        x = self._conv_forward(x, self.weight, self.bias)
        if self.norm is not None:
            x = self.norm(x)
        if self.activation is not None:
            x = self.activation(x)
        return x


def c2_xavier_fill(module: nn.Module) -> None:
    """Caffe2 ``XavierFill`` (= kaiming uniform with a=1) on the weight, zero bias."""
    nn.init.kaiming_uniform_(module.weight, a=1)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, 0)
