"""Registered matchers (``MATCHERS``) and match costs (``MATCH_COSTS``)."""
from .costs import ClassCost, DiceCost, MaskBCECost, MaskFocalCost, MatchCost
from .hungarian import HungarianMatcher, MatchIndices

__all__ = ["MatchCost", "ClassCost", "MaskBCECost", "MaskFocalCost", "DiceCost", "HungarianMatcher", "MatchIndices"]
