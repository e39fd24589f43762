"""ResNet backbone in the detectron2 / torchvision layout used by MaskFormer and Mask2Former.

State-dict names follow detectron2 (``stem.conv1.weight``, ``stem.conv1.norm.*``,
``res{2..5}.{j}.conv{1,2,3}.weight`` + ``.norm.*``, ``res{k}.0.shortcut.weight`` + ``.norm.*``), so the
official ``R-50.pkl`` / ``R-101.pkl`` / ``R-103.pkl`` files load by a prefix rename.
"""
from __future__ import annotations

import warnings
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segformers.registry import BACKBONES
from segformers.structures import ShapeSpec

from ..layers import Conv2dNormAct, FrozenBatchNorm2d
from ..layers.precision import bf16_is_native

STAGE_NAMES = ("res2", "res3", "res4", "res5")
STEM = "stem"  # optional output: the stem's stride-2 activation, before its max-pool
BLOCKS_PER_DEPTH = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}


def c2_msra_fill(conv: nn.Conv2d) -> None:
    """Caffe2 ``MSRAFill``: kaiming normal (fan_out, relu) weight and zero bias, as detectron2."""
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


AUTO = "auto"  # bf16 where the device computes it natively, else float32


def _check_autocast_dtype(name: Optional[str]) -> Union[None, str, torch.dtype]:
    if name is None or name == AUTO:
        return name
    if name not in ("bfloat16", "float16"):
        raise ValueError(f"ResNet: autocast_dtype must be None, 'auto', 'bfloat16' or 'float16', got {name!r}.")
    return getattr(torch, name)


def _resolve_autocast(dtype: Union[None, str, torch.dtype], device_type: str) -> Optional[torch.dtype]:
    """``"auto"`` -> bf16 on a device with bf16 instructions (CPU: AVX-512 BF16 / AMX; CUDA: sm80+), else None."""
    if dtype != AUTO:
        return dtype
    return torch.bfloat16 if bf16_is_native(device_type) else None


def _warn_if_emulated(dtype: torch.dtype, device_type: str) -> None:
    if device_type == "cpu" and dtype == torch.bfloat16 and not bf16_is_native("cpu"):
        warnings.warn("ResNet: autocast_dtype='bfloat16' on a CPU without bf16 instructions (no AVX-512 BF16 / "
                      "AMX): the convolutions are emulated, several times slower than float32 (an AVX2 AMD EPYC: "
                      "the quick-start training step 1.8 s against 0.29 s); set autocast_dtype=None here.",
                      stacklevel=3)


def freeze_module(module: nn.Module) -> nn.Module:
    """detectron2 ``CNNBlockBase.freeze``: no gradients and every BatchNorm turned into FrozenBN."""
    for p in module.parameters():
        p.requires_grad = False
    return FrozenBatchNorm2d.convert_frozen_batchnorm(module)


def _conv(cin: int, cout: int, k: int, norm: str, stride: int = 1, dilation: int = 1,
          groups: int = 1) -> Conv2dNormAct:
    conv = Conv2dNormAct(cin, cout, k, stride=stride, padding=dilation * (k // 2), dilation=dilation,
                         groups=groups, bias=False, norm=norm)
    c2_msra_fill(conv)
    return conv


class BasicStem(nn.Module):
    """7x7/2 conv + norm + ReLU + 3x3/2 max-pool: ``[B, 3, H, W] -> [B, C, H/4, W/4]``."""

    def __init__(self, *, in_channels: int = 3, out_channels: int = 64, norm: str = "FrozenBN") -> None:
        super().__init__()
        self.out_channels = out_channels
        self.conv1 = _conv(in_channels, out_channels, 7, norm, stride=2)

    def features(self, x: Tensor) -> Tensor:
        """The stride-2 activation before the max-pool: ``[B, 3, H, W] -> [B, C, H/2, W/2]``."""
        return F.relu_(self.conv1(x))

    def forward(self, x: Tensor) -> Tensor:
        return stem_pool(self.features(x))


def stem_pool(x: Tensor) -> Tensor:
    """The stems' 3x3/2 max-pool: ``[B, C, H/2, W/2] -> [B, C, H/4, W/4]``."""
    return F.max_pool2d(x, kernel_size=3, stride=2, padding=1)


class DeepLabStem(nn.Module):
    """Three 3x3 convs (C/2, C/2, C; strides 2, 1, 1) each + norm + ReLU, then 3x3/2 max-pool.

    ``[B, 3, H, W] -> [B, C, H/4, W/4]`` (the R101c / "R-103" stem of detectron2's DeepLab project).
    """

    def __init__(self, *, in_channels: int = 3, out_channels: int = 128, norm: str = "FrozenBN") -> None:
        super().__init__()
        if out_channels % 2:
            raise ValueError(f"DeepLabStem: out_channels must be even, got {out_channels}.")
        half = out_channels // 2
        self.out_channels = out_channels
        self.conv1 = _conv(in_channels, half, 3, norm, stride=2)
        self.conv2 = _conv(half, half, 3, norm)
        self.conv3 = _conv(half, out_channels, 3, norm)

    def features(self, x: Tensor) -> Tensor:
        """The stride-2 activation before the max-pool: ``[B, 3, H, W] -> [B, C, H/2, W/2]``."""
        x = F.relu_(self.conv1(x))
        x = F.relu_(self.conv2(x))
        return F.relu_(self.conv3(x))

    def forward(self, x: Tensor) -> Tensor:
        return stem_pool(self.features(x))


class BasicBlock(nn.Module):
    """Two 3x3 convs, projection shortcut if channels change: ``[B, Cin, H, W] -> [B, Cout, H/s, W/s]``."""

    def __init__(self, *, in_channels: int, out_channels: int, stride: int = 1,
                 norm: str = "FrozenBN") -> None:
        super().__init__()
        self.shortcut = (
            _conv(in_channels, out_channels, 1, norm, stride=stride) if in_channels != out_channels else None
        )
        self.conv1 = _conv(in_channels, out_channels, 3, norm, stride=stride)
        self.conv2 = _conv(out_channels, out_channels, 3, norm)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(F.relu_(self.conv1(x)))
        out += x if self.shortcut is None else self.shortcut(x)
        return F.relu_(out)


class BottleneckBlock(nn.Module):
    """1x1 -> 3x3 (stride, dilation, groups) -> 1x1 with a projection shortcut when channels change.

    ``[B, Cin, H, W] -> [B, Cout, H/s, W/s]``; ``stride_in_1x1`` puts the stride in the first 1x1 conv
    (MSRA) instead of the 3x3 conv (torchvision).
    """

    def __init__(self, *, in_channels: int, out_channels: int, bottleneck_channels: int, stride: int = 1,
                 num_groups: int = 1, norm: str = "FrozenBN", stride_in_1x1: bool = False,
                 dilation: int = 1) -> None:
        super().__init__()
        self.shortcut = (
            _conv(in_channels, out_channels, 1, norm, stride=stride) if in_channels != out_channels else None
        )
        stride_1x1, stride_3x3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = _conv(in_channels, bottleneck_channels, 1, norm, stride=stride_1x1)
        self.conv2 = _conv(bottleneck_channels, bottleneck_channels, 3, norm, stride=stride_3x3,
                           dilation=dilation, groups=num_groups)
        self.conv3 = _conv(bottleneck_channels, out_channels, 1, norm)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu_(self.conv1(x))
        out = F.relu_(self.conv2(out))
        out = self.conv3(out)
        out += x if self.shortcut is None else self.shortcut(x)
        return F.relu_(out)


@BACKBONES.register_module()
class ResNet(nn.Module):
    """ResNet-18/34/50/101/152 (and R101c with ``stem_type="deeplab"``) as in detectron2.

    ``forward(x [B, 3, H, W]) -> {"res2": [B, C2, H/4, W/4], ..., "res5": [B, C5, H/32, W/32]}`` restricted
    to ``out_features``; ``"stem"`` adds the stem's stride-2 map before its max-pool ``[B, C_stem, H/2,
    W/2]`` (e.g. for mask features at 1/2). Stages after the last requested one are not built (detectron2
    behaviour).
    Widths double per stage: ``res{k}`` has ``res2_out_channels * 2**(k-2)`` channels and bottleneck width
    ``num_groups * width_per_group * 2**(k-2)``. ``freeze_at`` = 0 freezes nothing, 1 the stem, 2 the stem
    and res2, ... (frozen parts get ``requires_grad=False`` and their BatchNorms become FrozenBN).
    Speed options, off by default (the official model): ``channels_last=True`` keeps the conv weights and
    activations in NHWC memory (oneDNN's native layout on CPU; same values to float rounding);
    ``autocast_dtype="bfloat16"`` (or ``"float16"`` on CUDA) runs the backbone, forward and backward, under
    its own autocast and returns float32 features, whether or not the rest of the model is autocast;
    ``autocast_dtype="auto"`` does so in bf16 only on a device with bf16 instructions and runs float32 elsewhere
    (emulated bf16, e.g. on an AVX2-only CPU, is several times slower than float32).
    """

    # a small instance for the contract test (segformers.testing)
    tiny_config = dict(depth=18, norm="BN", stem_out_channels=16, res2_out_channels=16)

    def __init__(
        self,
        *,
        depth: int = 50,
        norm: str = "FrozenBN",
        freeze_at: int = 0,
        stem_type: str = "basic",
        stem_out_channels: Optional[int] = None,
        res2_out_channels: int = 256,
        width_per_group: int = 64,
        num_groups: int = 1,
        stride_in_1x1: bool = False,
        res5_dilation: int = 1,
        res5_multi_grid: Sequence[int] = (1, 1, 1),
        num_blocks_per_stage: Optional[Sequence[int]] = None,
        out_features: Sequence[str] = STAGE_NAMES,
        channels_last: bool = False,
        autocast_dtype: Optional[str] = None,
    ) -> None:
        super().__init__()
        self.autocast_dtype = _check_autocast_dtype(autocast_dtype)
        self.channels_last = bool(channels_last)
        blocks = self._check_args(depth, stem_type, num_blocks_per_stage, out_features, freeze_at)
        if stem_out_channels is None:
            stem_out_channels = 128 if stem_type == "deeplab" else 64
        stem_cls = DeepLabStem if stem_type == "deeplab" else BasicStem
        self.stem = stem_cls(in_channels=3, out_channels=stem_out_channels, norm=norm)
        self.out_features = list(out_features)
        self.size_divisibility = 1  # any input size works (strided convs round up)
        self._shapes: dict[str, ShapeSpec] = {STEM: ShapeSpec(stem_out_channels, 2)}
        self._build_stages(
            depth=depth, norm=norm, blocks=blocks, in_channels=stem_out_channels,
            out_channels=res2_out_channels, bottleneck_channels=num_groups * width_per_group,
            num_groups=num_groups, stride_in_1x1=stride_in_1x1, res5_dilation=res5_dilation,
            res5_multi_grid=list(res5_multi_grid),
        )
        self._shapes = {k: v for k, v in self._shapes.items() if k in self.out_features}
        self.freeze(freeze_at)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    @staticmethod
    def _check_args(depth: int, stem_type: str, num_blocks_per_stage: Optional[Sequence[int]],
                    out_features: Sequence[str], freeze_at: int) -> list[int]:
        if depth not in BLOCKS_PER_DEPTH:
            raise ValueError(f"ResNet: depth={depth} is not supported; use one of "
                             f"{sorted(BLOCKS_PER_DEPTH)}.")
        if stem_type not in ("basic", "deeplab"):
            raise ValueError(f"ResNet: stem_type must be 'basic' or 'deeplab', got {stem_type!r}.")
        bad = [f for f in out_features if f not in (STEM, *STAGE_NAMES)]
        if bad or not out_features:
            raise ValueError(f"ResNet: out_features {list(out_features)} must be a non-empty subset of "
                             f"{[STEM, *STAGE_NAMES]}.")
        if not 0 <= freeze_at <= 5:
            raise ValueError(f"ResNet: freeze_at must be in [0, 5] (0 = nothing frozen), got {freeze_at}.")
        blocks = list(BLOCKS_PER_DEPTH[depth] if num_blocks_per_stage is None else num_blocks_per_stage)
        if len(blocks) != 4 or min(blocks) < 1:
            raise ValueError(f"ResNet: num_blocks_per_stage must be 4 positive ints, got {blocks}.")
        return blocks

    def _build_stages(self, *, depth: int, norm: str, blocks: list[int], in_channels: int, out_channels: int,
                      bottleneck_channels: int, num_groups: int, stride_in_1x1: bool, res5_dilation: int,
                      res5_multi_grid: list[int]) -> None:
        basic = depth in (18, 34)
        if res5_dilation not in (1, 2, 4):
            raise ValueError(f"ResNet: res5_dilation must be 1, 2 or 4, got {res5_dilation}.")
        if any(g != 1 for g in res5_multi_grid) and len(res5_multi_grid) != blocks[3]:
            raise ValueError(f"ResNet: res5_multi_grid {res5_multi_grid} needs one entry per res5 block "
                             f"({blocks[3]}).")
        if basic and (num_groups != 1 or res5_dilation != 1 or any(g != 1 for g in res5_multi_grid)):
            raise ValueError("ResNet-18/34 (basic blocks) need num_groups=1, res5_dilation=1 and "
                             "res5_multi_grid of ones.")
        stride = 4
        last = max((STAGE_NAMES.index(f) for f in self.out_features if f != STEM), default=-1)
        for idx in range(last + 1):
            name = STAGE_NAMES[idx]
            dilation = res5_dilation if idx == 3 else 1
            first_stride = 1 if idx == 0 or dilation > 1 else 2
            stage = []
            for j in range(blocks[idx]):
                s = first_stride if j == 0 else 1
                cin = in_channels if j == 0 else out_channels
                if basic:
                    stage.append(BasicBlock(in_channels=cin, out_channels=out_channels, stride=s, norm=norm))
                    continue
                grid = res5_multi_grid[j] if idx == 3 and len(res5_multi_grid) == blocks[3] else 1
                stage.append(BottleneckBlock(
                    in_channels=cin, out_channels=out_channels, bottleneck_channels=bottleneck_channels,
                    stride=s, num_groups=num_groups, norm=norm, stride_in_1x1=stride_in_1x1,
                    dilation=dilation * grid,
                ))
            self.add_module(name, nn.Sequential(*stage))
            stride *= first_stride
            self._shapes[name] = ShapeSpec(out_channels, stride)
            in_channels, out_channels = out_channels, out_channels * 2
            bottleneck_channels *= 2
        self.stage_names = list(STAGE_NAMES[: last + 1])

    def output_shape(self) -> dict[str, ShapeSpec]:
        """``{name: ShapeSpec(channels, stride)}`` of every output in ``out_features``."""
        return dict(self._shapes)

    def freeze(self, freeze_at: int = 0) -> "ResNet":
        """Freeze the stem (``freeze_at >= 1``) and ``res{k}`` for ``k <= freeze_at``; returns ``self``."""
        if freeze_at >= 1:
            freeze_module(self.stem)
        for k, name in enumerate(self.stage_names, start=2):
            if freeze_at >= k:
                freeze_module(getattr(self, name))
        return self

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"ResNet expects images [B, 3, H, W], got shape {tuple(x.shape)}.")
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        dtype = _resolve_autocast(self.autocast_dtype, x.device.type)
        if dtype is None:
            return self._features(x)
        _warn_if_emulated(dtype, x.device.type)
        with torch.autocast(x.device.type, dtype=dtype):
            outputs = self._features(x)
        return {name: feat.float() for name, feat in outputs.items()}

    def _features(self, x: Tensor) -> dict[str, Tensor]:
        outputs = {}
        x = self.stem.features(x)
        if STEM in self.out_features:
            outputs[STEM] = x
        x = stem_pool(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
            if name in self.out_features:
                outputs[name] = x
        return outputs
