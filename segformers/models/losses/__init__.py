"""Registered losses (``LOSSES``) and criteria (``CRITERIA``)."""
from .classification import CrossEntropyLoss
from .criterion import SetCriterion, average_num_masks
from .mask_losses import DiceLoss, MaskBCELoss, MaskFocalLoss, MaskLoss
from .samplers import MatchedMaskSampler, gather_matched_masks

__all__ = [
    "CrossEntropyLoss", "MaskLoss", "MaskBCELoss", "MaskFocalLoss", "DiceLoss", "SetCriterion",
    "average_num_masks", "MatchedMaskSampler", "gather_matched_masks",
]
