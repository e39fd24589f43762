"""Overlays of predictions and ground truth."""
from .overlay import draw_legend, instance_overlay, palette_for, panoptic_overlay, semantic_overlay

__all__ = ["draw_legend", "instance_overlay", "palette_for", "panoptic_overlay", "semantic_overlay"]
