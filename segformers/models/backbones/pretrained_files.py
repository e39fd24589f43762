"""The ImageNet backbone files of the model zoo: where each comes from, and a clear error when one is missing.

Every zoo config starts its backbone from the weights the official run used,
``model.backbone.init_cfg = dict(type="Pretrained", checkpoint="pretrained/<official file name>")``.
The path is relative to the directory the tools run from (the repository root, as ``data/``), so the
files live in ``./pretrained/``. A config without an ``init_cfg`` (the quick start, the toy and test
configs), or with ``init_cfg=None``, trains its backbone from a random initialization and needs no file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

PRETRAINED_DIR = "pretrained"
_SWIN = "https://github.com/SwinTransformer/storage/releases/download/v1.0.0/"
_CONVERT = "python tools/convert_checkpoint.py backbone"

# file name -> (the command that puts it into pretrained/, run from the repository root; what it is),
# official.md §2.2, §2.7, §4.4; every file is read as it is published
PRETRAINED_SOURCES: dict[str, tuple[str, str]] = {
    "R-50.pkl": ("wget -P pretrained https://dl.fbaipublicfiles.com/detectron2/ImageNetPretrained/torchvision/R-50.pkl",
                 "torchvision's ResNet-50 in detectron2 names"),
    "R-101.pkl": ("wget -P pretrained https://download.pytorch.org/models/resnet101-63fe2227.pth && "
                  f"{_CONVERT} pretrained/resnet101-63fe2227.pth pretrained/R-101.pkl",
                  "torchvision's ResNet-101, converted as the official repos do"),
    "R-103.pkl": ("wget -P pretrained https://dl.fbaipublicfiles.com/detectron2/DeepLab/R-103.pkl",
                  "ResNet-101c: the DeepLab stem of three 3x3 convolutions"),
    "swin_tiny_patch4_window7_224.pth": (f"wget -P pretrained {_SWIN}swin_tiny_patch4_window7_224.pth",
                                         "Swin-T, ImageNet-1k"),
    "swin_small_patch4_window7_224.pth": (f"wget -P pretrained {_SWIN}swin_small_patch4_window7_224.pth",
                                          "Swin-S, ImageNet-1k"),
    "swin_base_patch4_window12_384.pth": (f"wget -P pretrained {_SWIN}swin_base_patch4_window12_384.pth",
                                          "Swin-B, ImageNet-1k, 384"),
    "swin_base_patch4_window12_384_22k.pth": (f"wget -P pretrained {_SWIN}swin_base_patch4_window12_384_22k.pth",
                                              "Swin-B, ImageNet-22k, 384"),
    "swin_large_patch4_window12_384_22k.pth": (f"wget -P pretrained {_SWIN}swin_large_patch4_window12_384_22k.pth",
                                               "Swin-L, ImageNet-22k, 384"),
}


def how_to_get(checkpoint: str) -> str:
    """How to fetch (or convert) a backbone file, by its file name."""
    known = PRETRAINED_SOURCES.get(Path(checkpoint).name)
    if known is not None:
        return f"with `{known[0]}` ({known[1]})"
    return (f"by converting ImageNet weights (torchvision ResNet .pth, detectron2 R-*.pkl, official Swin .pth) with "
            f"`{_CONVERT} SRC {checkpoint}`, or point init_cfg.checkpoint at such a file")


def require_backbone_file(checkpoint: str) -> Path:
    """``checkpoint`` as a path; raises ``FileNotFoundError`` naming the file, how to get it and how to
    train without it."""
    path = Path(checkpoint)
    if path.is_file():
        return path
    raise FileNotFoundError(
        f"model.backbone.init_cfg.checkpoint='{checkpoint}' does not exist (looked for {path.resolve()}).\n"
        f"  It holds the ImageNet weights the backbone starts from. Get it {how_to_get(checkpoint)}.\n"
        "  Relative paths start at the directory you run from (the repository root: docs/model_zoo.md, "
        "'Pretrained backbones').\n"
        "  To train the backbone from a random initialization instead: "
        "--cfg-options model.backbone.init_cfg=None"
    )


def pretrained_checkpoint(model_cfg: Mapping[str, Any]) -> Optional[str]:
    """The backbone file a model config starts from, or ``None`` (no ``init_cfg`` or ``init_cfg=None``)."""
    backbone = model_cfg.get("backbone")
    init_cfg = backbone.get("init_cfg") if isinstance(backbone, Mapping) else None
    if not init_cfg:
        return None
    entries = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return next((e.get("checkpoint") for e in entries if isinstance(e, Mapping)), None)


def require_pretrained_backbone(model_cfg: Mapping[str, Any]) -> Optional[Path]:
    """Check before training that the backbone file a model config names exists (see
    :func:`require_backbone_file`); ``None`` when the config trains its backbone from scratch."""
    checkpoint = pretrained_checkpoint(model_cfg)
    return None if checkpoint is None else require_backbone_file(str(checkpoint))
