"""Normalization layers selected by name: ``FrozenBN``, ``BN``, ``SyncBN``, ``GN``, ``LN`` or ``""``."""
from __future__ import annotations

import warnings
from typing import Optional

import torch
from torch import Tensor, nn


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with fixed statistics and affine terms, all held as buffers (detectron2 semantics).

    ``y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`` on ``[B, C, H, W]``; nothing is
    trained and nothing counts as a parameter.
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features) - eps)

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        # one pass over x instead of two (x * scale + shift): in a GPU profile of MaskFormer R50 inference the
        # separate multiply and add kernels were where ours differed from transformers' cuDNN batch norm
        return torch.addcmul(shift.view(1, -1, 1, 1).to(x.dtype), x, scale.view(1, -1, 1, 1).to(x.dtype))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001
        # BatchNorm checkpoints carry num_batches_tracked, which a frozen norm does not need.
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"

    @classmethod
    def convert_frozen_batchnorm(cls, module: nn.Module) -> nn.Module:
        """Return ``module`` with every BatchNorm replaced by a frozen copy of its statistics."""
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            frozen = cls(module.num_features, module.eps)
            if module.affine:
                frozen.weight.copy_(module.weight.detach())
                frozen.bias.copy_(module.bias.detach())
            frozen.running_mean.copy_(module.running_mean)
            frozen.running_var.copy_(module.running_var)
            return frozen
        for name, child in module.named_children():
            new = cls.convert_frozen_batchnorm(child)
            if new is not child:
                module.add_module(name, new)
        return module


NORM_NAMES = ("", "FrozenBN", "BN", "SyncBN", "GN", "LN")


def build_norm(norm: Optional[str], channels: int, num_groups: int = 32) -> Optional[nn.Module]:
    """Build a 2-d normalization layer by name (``GN`` = ``GroupNorm(32, C)`` as in detectron2).

    Returns ``None`` for ``""``/``None``. ``LN`` is a channels-first LayerNorm over ``C`` of ``[B, C, H, W]``.
    ``SyncBN`` is ``nn.SyncBatchNorm`` where CUDA is available and ``nn.BatchNorm2d`` (with a warning)
    where it is not: torch synchronizes BatchNorm on GPUs only.
    """
    if not norm:
        return None
    if norm == "FrozenBN":
        return FrozenBatchNorm2d(channels)
    if norm == "BN":
        return nn.BatchNorm2d(channels)
    if norm == "SyncBN":
        if torch.cuda.is_available():
            return nn.SyncBatchNorm(channels)
        # torch's SyncBatchNorm (and DDP around it) runs on GPUs only: a GPU config still trains here
        warnings.warn("norm='SyncBN' without CUDA: building BatchNorm2d instead (statistics of each "
                      "process's own batch; same parameters and state-dict names).", stacklevel=2)
        return nn.BatchNorm2d(channels)
    if norm == "GN":
        return nn.GroupNorm(num_groups, channels)
    if norm == "LN":
        return LayerNorm2d(channels)
    raise ValueError(f"Unknown norm '{norm}'. Choose one of {list(NORM_NAMES)}.")


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channel dimension of a ``[B, C, H, W]`` tensor."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
