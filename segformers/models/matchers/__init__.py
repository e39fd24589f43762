"""Registered matchers (``MATCHERS``) and match costs (``MATCH_COSTS``).

``MatchCost``, ``MatchInputs`` and ``MatchIndices`` are contracts and live in :mod:`segformers.structures`;
they are re-exported here for the costs' authors.
"""
from segformers.structures import MatchCost, MatchIndices, MatchInputs

from .costs import ClassCost, DiceCost, MaskBCECost, MaskFocalCost
from .hungarian import HungarianMatcher

__all__ = [
    "MatchCost", "MatchInputs", "ClassCost", "MaskBCECost", "MaskFocalCost", "DiceCost", "HungarianMatcher",
    "MatchIndices",
]
