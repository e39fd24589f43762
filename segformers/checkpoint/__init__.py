"""segformers.checkpoint: converters from published checkpoint formats to segformers state dicts.

* :mod:`.hf` — Hugging Face ``save_pretrained`` folders of MaskFormer / Mask2Former.
* :mod:`.official` — official detectron2 ``model_final_*.pkl`` files of MaskFormer / Mask2Former.
* :mod:`.backbones` — backbone configs inferred from ImageNet backbone weights.

Reading weight files (the restricted unpickler, the backbone formats) is :mod:`segformers.weights_io`,
one floor down, which the model code uses too. Import the submodule you need; this package imports none.
"""
__all__ = ["backbones", "hf", "official"]
