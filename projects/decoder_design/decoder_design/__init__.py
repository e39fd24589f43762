"""Mask2Former's decoder-design ablations (Table 4b, Table Xb) as one plugin decoder, registered without
touching ``segformers/``; the query counts (Table Xa) and dropout need no code (``ablation_variants.py``)."""
from .decoder import LAYER_ORDERS, QUERY_FEATURES, DesignAblationDecoder, ZeroQueryFeatures

__all__ = ["DesignAblationDecoder", "ZeroQueryFeatures", "QUERY_FEATURES", "LAYER_ORDERS"]
