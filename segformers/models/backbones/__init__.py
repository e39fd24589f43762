"""Registered backbones: ``ResNet`` (detectron2 layout) and ``SwinTransformer`` (official D2 Swin)."""
from .resnet import ResNet
from .swin import SwinTransformer

__all__ = ["ResNet", "SwinTransformer"]
