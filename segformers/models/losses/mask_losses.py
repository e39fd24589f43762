"""Losses between matched predicted masks and their ground truth, normalized by ``num_masks``.

Every loss takes ``logits [M, P]`` and ``labels [M, P]`` for the ``M`` matched pairs, where ``P`` is
either sampled points (Mask2Former) or the flattened pixels of the upsampled prediction (MaskFormer),
and returns ``sum over pairs of (per-pair loss) / num_masks`` (unweighted; the criterion applies
``loss_weight``). Computed in float32.
"""
from __future__ import annotations

from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from segformers.registry import LOSSES


class MaskLoss(nn.Module):
    """Base class. Args: ``loss_weight`` (multiplier applied by the criterion), ``name`` (key ``loss_{name}``)."""

    def __init__(self, *, loss_weight: float = 1.0, name: str = "mask") -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)
        self.name = name

    def per_mask(self, logits: Tensor, labels: Tensor) -> Tensor:
        """``[M]`` loss of each pair."""
        raise NotImplementedError

    def forward(self, logits: Tensor, labels: Tensor, num_masks: float) -> Tensor:
        """``logits [M, P]``, ``labels [M, P]`` in ``[0, 1]`` -> scalar ``sum_m loss_m / num_masks``."""
        if logits.shape != labels.shape or logits.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} expects logits and labels of the same shape [M, P], got "
                f"{tuple(logits.shape)} and {tuple(labels.shape)}"
            )
        return self.per_mask(logits.float(), labels.float()).sum() / num_masks

    def extra_repr(self) -> str:
        return f"loss_weight={self.loss_weight}, name={self.name!r}"


@LOSSES.register_module()
class MaskBCELoss(MaskLoss):
    """Sigmoid binary cross-entropy averaged over the points of each pair (Mask2Former ``loss_mask``)."""

    def per_mask(self, logits: Tensor, labels: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, labels, reduction="none").mean(1)


@LOSSES.register_module()
class MaskFocalLoss(MaskLoss):
    """Sigmoid focal loss averaged over the pixels of each pair (MaskFormer ``loss_mask``).

    ``ce * (1 - p_t) ** gamma * alpha_t`` with ``p_t = p t + (1 - p)(1 - t)``,
    ``alpha_t = alpha t + (1 - alpha)(1 - t)``; ``alpha=None`` drops ``alpha_t``.
    """

    def __init__(self, *, loss_weight: float = 1.0, name: str = "mask", alpha: Optional[float] = 0.25,
                 gamma: float = 2.0) -> None:
        super().__init__(loss_weight=loss_weight, name=name)
        if alpha is not None and not 0 <= alpha <= 1:
            raise ValueError(f"MaskFocalLoss alpha must be in [0, 1] or None, got {alpha}")
        self.alpha = alpha
        self.gamma = float(gamma)

    def per_mask(self, logits: Tensor, labels: Tensor) -> Tensor:
        prob = logits.sigmoid()
        ce = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
        p_t = prob * labels + (1 - prob) * (1 - labels)
        loss = ce * (1 - p_t) ** self.gamma
        if self.alpha is not None:
            loss = (self.alpha * labels + (1 - self.alpha) * (1 - labels)) * loss
        return loss.mean(1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, alpha={self.alpha}, gamma={self.gamma}"


@LOSSES.register_module()
class DiceLoss(MaskLoss):
    """``1 - (2 sum sigma(x) t + 1) / (sum sigma(x) + sum t + 1)`` per pair (+1 smoothing)."""

    def __init__(self, *, loss_weight: float = 1.0, name: str = "dice") -> None:
        super().__init__(loss_weight=loss_weight, name=name)

    def per_mask(self, logits: Tensor, labels: Tensor) -> Tensor:
        prob = logits.sigmoid()
        numerator = 2 * (prob * labels).sum(-1)
        denominator = prob.sum(-1) + labels.sum(-1)
        return 1 - (numerator + 1) / (denominator + 1)
