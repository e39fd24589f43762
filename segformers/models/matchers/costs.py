"""Pairwise match costs for the Hungarian matcher (official ``matcher.py`` of MaskFormer / Mask2Former).

Every cost maps one image's :class:`~segformers.structures.MatchInputs` to a ``[Q, N]`` matrix, multiplied
by its ``weight`` (:class:`~segformers.structures.MatchCost`), computed in float32 (the matcher disables
autocast around them). The mask costs here read the mask rows ``[*, P]``: ``P`` sampled points
(Mask2Former) or flattened pixels (MaskFormer), with ground truth as 0/1 (or bilinearly interpolated)
floats; a cost over whole 2-D masks reads ``inputs.mask_logits`` / ``inputs.target_masks`` instead.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from segformers.registry import MATCH_COSTS
from segformers.structures import MatchCost, MatchInputs

__all__ = ["MatchCost", "ClassCost", "MaskBCECost", "MaskFocalCost", "DiceCost"]


@MATCH_COSTS.register_module()
class ClassCost(MatchCost):
    """``-softmax(class_logits)[:, labels]`` (no ``1 -``, no log), ``[Q, N]``."""

    def cost(self, inputs: MatchInputs) -> Tensor:
        return -inputs.class_logits.softmax(-1)[:, inputs.labels]


def _pos_neg_bce(logits: Tensor) -> tuple[Tensor, Tensor]:
    """Per-point BCE of ``logits [Q, P]`` against all-ones and all-zeros targets."""
    pos = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits), reduction="none")
    neg = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="none")
    return pos, neg


@MATCH_COSTS.register_module()
class MaskBCECost(MatchCost):
    """Mean per-point sigmoid BCE of every (prediction, target) pair, as two matrix products, ``[Q, N]``."""

    def cost(self, inputs: MatchInputs) -> Tensor:
        pred, masks = inputs.pred_rows, inputs.target_rows
        pos, neg = _pos_neg_bce(pred)
        return (pos @ masks.T + neg @ (1 - masks).T) / pred.shape[1]


@MATCH_COSTS.register_module()
class MaskFocalCost(MatchCost):
    """Mean per-pixel sigmoid focal loss of every pair (MaskFormer), ``[Q, N]``.

    ``alpha`` weights positives (``1 - alpha`` negatives); ``None`` disables that weighting.
    """

    def __init__(self, *, weight: float = 1.0, alpha: Optional[float] = 0.25, gamma: float = 2.0) -> None:
        super().__init__(weight=weight)
        if alpha is not None and not 0 <= alpha <= 1:
            raise ValueError(f"MaskFocalCost alpha must be in [0, 1] or None, got {alpha}")
        self.alpha = alpha
        self.gamma = float(gamma)

    def cost(self, inputs: MatchInputs) -> Tensor:
        pred, masks = inputs.pred_rows, inputs.target_rows
        prob = pred.sigmoid()
        pos, neg = _pos_neg_bce(pred)
        pos = (1 - prob) ** self.gamma * pos
        neg = prob**self.gamma * neg
        if self.alpha is not None:
            pos = pos * self.alpha
            neg = neg * (1 - self.alpha)
        return (pos @ masks.T + neg @ (1 - masks).T) / pred.shape[1]

    def extra_repr(self) -> str:
        return f"weight={self.weight}, alpha={self.alpha}, gamma={self.gamma}"


@MATCH_COSTS.register_module()
class DiceCost(MatchCost):
    """``1 - (2 sigma(x) . t + 1) / (sum sigma(x) + sum t + 1)`` for every pair, ``[Q, N]``."""

    def cost(self, inputs: MatchInputs) -> Tensor:
        prob, masks = inputs.pred_rows.sigmoid(), inputs.target_rows
        numerator = 2 * (prob @ masks.T)
        denominator = prob.sum(-1)[:, None] + masks.sum(-1)[None, :]
        return 1 - (numerator + 1) / (denominator + 1)
