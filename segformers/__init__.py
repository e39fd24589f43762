"""segformers: MaskFormer and Mask2Former as interchangeable, registry-built components."""
__version__ = "0.1.0"
