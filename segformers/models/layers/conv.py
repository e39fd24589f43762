"""``Conv2d`` with an optional norm and activation, keeping detectron2's state-dict names.

``Conv2dNormAct(...)`` stores its weight as ``<name>.weight`` and its norm as ``<name>.norm.*``, the
layout of the official checkpoints (``adapter_1.weight``, ``adapter_1.norm.weight``).
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor, nn

from .norm import FrozenBatchNorm2d, build_norm
from .tracing import tracing


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
        self._folded: Optional[tuple[tuple, Tensor, Tensor]] = None

    def folded_weight_bias(self) -> tuple[Tensor, Tensor]:
        """The conv with its ``FrozenBatchNorm2d`` folded in: ``weight * scale`` ``[C_out, C_in/g, k, k]`` and
        ``bias * scale + shift`` ``[C_out]`` (exact up to rounding), cached until a weight or statistic changes."""
        norm = self.norm
        tensors = (self.weight, norm.weight, norm.bias, norm.running_mean, norm.running_var)
        key = tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in tensors)
        if self._folded is not None and self._folded[0] == key and not tracing():
            return self._folded[1], self._folded[2]
        scale = norm.weight * (norm.running_var + norm.eps).rsqrt()
        shift = norm.bias - norm.running_mean * scale
        nhwc = not self.weight.is_contiguous() and self.weight.is_contiguous(memory_format=torch.channels_last)
        weight = (self.weight * scale.view(-1, 1, 1, 1)).contiguous(
            memory_format=torch.channels_last if nhwc else torch.contiguous_format)  # the layout of the weight
        bias = shift if self.bias is None else self.bias * scale + shift
        if not tracing():
            self._folded = (key, weight, bias)
        return weight, bias

    def forward(self, x: Tensor) -> Tensor:
        if isinstance(self.norm, FrozenBatchNorm2d) and not (torch.is_grad_enabled() and self.weight.requires_grad):
            # inference: one pass over the output instead of two (conv, then the norm's multiply-add)
            x = self._conv_forward(x, *self.folded_weight_bias())
            return x if self.activation is None else self.activation(x)
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
