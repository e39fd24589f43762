"""segformers.checkpoint: converters from published checkpoint formats to segformers state dicts.

* :mod:`.hf` — Hugging Face ``save_pretrained`` folders of MaskFormer / Mask2Former.
* :mod:`.official` — official detectron2 ``model_final_*.pkl`` files of MaskFormer / Mask2Former.
* :mod:`.backbones` — ImageNet backbone weights (torchvision ResNet, detectron2 ``R-*.pkl``, official
  Swin ``.pth``) and the restricted unpickler used for every ``.pkl``.

Import the submodule you need; this package imports none of them, so that the model code can use
:mod:`.backbones` without pulling in the converters.
"""
__all__ = ["backbones", "hf", "official"]
