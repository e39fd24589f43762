"""Pairwise match costs for the Hungarian matcher (official ``matcher.py`` of MaskFormer / Mask2Former).

Every cost maps the predictions of one image and its ground truth to a ``[Q, N]`` matrix, already
multiplied by its ``weight``, computed in float32 (the matcher disables autocast around them).
Mask costs see masks as ``[*, P]`` rows: ``P`` sampled points (Mask2Former) or flattened pixels
(MaskFormer), with ground truth as 0/1 (or bilinearly interpolated) floats.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segformers.registry import MATCH_COSTS


class MatchCost(nn.Module):
    """Base class: ``weight * cost(...) -> [Q, N]``; subclasses implement :meth:`cost`.

    Attribute ``uses_masks`` tells the matcher whether mask rows must be prepared.
    """

    uses_masks: bool = False

    def __init__(self, *, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = float(weight)

    def cost(self, *, class_logits: Tensor, labels: Tensor, mask_logits: Optional[Tensor],
             masks: Optional[Tensor]) -> Tensor:
        raise NotImplementedError

    def forward(self, *, class_logits: Tensor, labels: Tensor, mask_logits: Optional[Tensor] = None,
                masks: Optional[Tensor] = None) -> Tensor:
        """Args: ``class_logits [Q, K+1]``, ``labels [N]``, ``mask_logits [Q, P]``, ``masks [N, P]``.

        Returns the weighted cost ``[Q, N]`` in float32.
        """
        if self.uses_masks and (mask_logits is None or masks is None):
            raise ValueError(f"{type(self).__name__} needs mask_logits [Q, P] and masks [N, P]")
        return self.weight * self.cost(
            class_logits=class_logits.float(), labels=labels,
            mask_logits=None if mask_logits is None else mask_logits.float(),
            masks=None if masks is None else masks.float(),
        )

    def extra_repr(self) -> str:
        return f"weight={self.weight}"


@MATCH_COSTS.register_module()
class ClassCost(MatchCost):
    """``-softmax(class_logits)[:, labels]`` (no ``1 -``, no log), ``[Q, N]``."""

    def cost(self, *, class_logits: Tensor, labels: Tensor, mask_logits: Optional[Tensor],
             masks: Optional[Tensor]) -> Tensor:
        return -class_logits.softmax(-1)[:, labels]


@MATCH_COSTS.register_module()
class MaskBCECost(MatchCost):
    """Mean per-point sigmoid BCE of every (prediction, target) pair, as two matrix products, ``[Q, N]``."""

    uses_masks = True

    def cost(self, *, class_logits: Tensor, labels: Tensor, mask_logits: Optional[Tensor],
             masks: Optional[Tensor]) -> Tensor:
        num_points = mask_logits.shape[1]
        pos = F.binary_cross_entropy_with_logits(mask_logits, torch.ones_like(mask_logits), reduction="none")
        neg = F.binary_cross_entropy_with_logits(mask_logits, torch.zeros_like(mask_logits), reduction="none")
        return (pos @ masks.T + neg @ (1 - masks).T) / num_points


@MATCH_COSTS.register_module()
class MaskFocalCost(MatchCost):
    """Mean per-pixel sigmoid focal loss of every pair (MaskFormer), ``[Q, N]``.

    ``alpha`` weights positives (``1 - alpha`` negatives); ``None`` disables that weighting.
    """

    uses_masks = True

    def __init__(self, *, weight: float = 1.0, alpha: Optional[float] = 0.25, gamma: float = 2.0) -> None:
        super().__init__(weight=weight)
        if alpha is not None and not 0 <= alpha <= 1:
            raise ValueError(f"MaskFocalCost alpha must be in [0, 1] or None, got {alpha}")
        self.alpha = alpha
        self.gamma = float(gamma)

    def cost(self, *, class_logits: Tensor, labels: Tensor, mask_logits: Optional[Tensor],
             masks: Optional[Tensor]) -> Tensor:
        num_points = mask_logits.shape[1]
        prob = mask_logits.sigmoid()
        pos = F.binary_cross_entropy_with_logits(mask_logits, torch.ones_like(mask_logits), reduction="none")
        neg = F.binary_cross_entropy_with_logits(mask_logits, torch.zeros_like(mask_logits), reduction="none")
        pos = (1 - prob) ** self.gamma * pos
        neg = prob**self.gamma * neg
        if self.alpha is not None:
            pos = pos * self.alpha
            neg = neg * (1 - self.alpha)
        return (pos @ masks.T + neg @ (1 - masks).T) / num_points

    def extra_repr(self) -> str:
        return f"weight={self.weight}, alpha={self.alpha}, gamma={self.gamma}"


@MATCH_COSTS.register_module()
class DiceCost(MatchCost):
    """``1 - (2 sigma(x) . t + 1) / (sum sigma(x) + sum t + 1)`` for every pair, ``[Q, N]``."""

    uses_masks = True

    def cost(self, *, class_logits: Tensor, labels: Tensor, mask_logits: Optional[Tensor],
             masks: Optional[Tensor]) -> Tensor:
        prob = mask_logits.sigmoid()
        numerator = 2 * (prob @ masks.T)
        denominator = prob.sum(-1)[:, None] + masks.sum(-1)[None, :]
        return 1 - (numerator + 1) / (denominator + 1)
