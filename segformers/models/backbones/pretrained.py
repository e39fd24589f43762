"""Pretrained backbone weights from a config: ``model.backbone.init_cfg = dict(type="Pretrained", checkpoint=PATH)``.

Our backbones are plain ``nn.Module``s, so the segmentor takes ``init_cfg`` out of the backbone config
before building it (:func:`split_init_cfg`) and applies it in its ``init_weights()`` — what mmengine's
Runner calls before training — through :func:`init_pretrained_backbone`. ``PATH`` may be any format of
:mod:`segformers.weights_io` (torchvision ``.pth``, detectron2 ``R-50.pkl`` / ``R-103.pkl``, official
Swin ``.pth``, a file written by ``tools/convert_checkpoint.py backbone``, or a full model, whose
``backbone.*`` entries are used).

``init_cfg`` keys: ``type="Pretrained"``, ``checkpoint``, optional ``prefix`` (take only keys under it, as
mmengine's ``PretrainedInit``), optional ``strict`` (default True). Shape mismatches always raise; with
``strict`` unexpected missing keys or unused keys raise too, otherwise they are logged. Expected
differences are only logged: Swin's ``norm0..3`` (not in ImageNet files, official.md §4.4),
``num_batches_tracked`` and classifier / final-norm / ``attn_mask`` entries of the ImageNet files.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Optional, Union

from mmengine.logging import print_log
from torch import Tensor, nn

from segformers.weights_io import BackboneWeights, read_backbone_weights

from .pretrained_files import require_backbone_file

# backbone keys an ImageNet file may lack: Swin's per-output norms (fresh init, official.md §4.4), BatchNorm
# counters, and Swin's position index (a constant buffer)
FRESH_INIT = re.compile(r"norm[0-3]\.(weight|bias)|(.+\.)?num_batches_tracked|.+\.relative_position_index")
UNUSED_OK = re.compile(r"(.+\.)?num_batches_tracked")  # BatchNorm counters of a file, for a FrozenBN backbone
INIT_CFG_KEYS = {"type", "checkpoint", "prefix", "strict", "map_location"}


@dataclass
class BackboneLoadReport:
    """What :func:`load_backbone_weights` did, by key name."""

    source: str
    source_format: str
    loaded: list[str]
    missing: list[str]
    unused: list[str]

    def summary(self) -> str:
        """One readable paragraph: counts, then the missing and unused keys by name."""
        return (f"Loaded {len(self.loaded)} backbone tensors from {self.source} ({self.source_format} format).\n"
                f"  left at their initialization ({len(self.missing)}): {self.missing}\n"
                f"  not used by the backbone ({len(self.unused)}): {self.unused}")


def split_init_cfg(cfg: Union[dict, nn.Module]) -> tuple[Union[dict, nn.Module], Optional[Any]]:
    """``(cfg without init_cfg, init_cfg or None)``; a built module passes through unchanged."""
    if isinstance(cfg, nn.Module) or "init_cfg" not in cfg:
        return cfg, None
    return {k: v for k, v in cfg.items() if k != "init_cfg"}, cfg["init_cfg"]


def check_init_cfg(init_cfg: Any) -> dict:
    """The single ``Pretrained`` entry of a backbone ``init_cfg`` (a dict or a one-item list), validated."""
    entries = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    if len(entries) != 1 or not isinstance(entries[0], dict) or entries[0].get("type") != "Pretrained":
        raise ValueError(
            f"backbone.init_cfg={init_cfg!r}: segformers backbones are plain nn.Modules and understand only "
            "dict(type='Pretrained', checkpoint=PATH[, prefix=..., strict=True])."
        )
    cfg = dict(entries[0])
    unknown = sorted(set(cfg) - INIT_CFG_KEYS)
    if unknown or not cfg.get("checkpoint"):
        raise ValueError(f"backbone.init_cfg={cfg!r}: needs 'checkpoint'; unknown keys {unknown} "
                         f"(allowed: {sorted(INIT_CFG_KEYS)}).")
    return cfg


def _shape_mismatches(own: dict[str, Tensor], state: dict[str, Tensor]) -> list[str]:
    return [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
            for k, v in state.items() if k in own and own[k].shape != v.shape]


def load_backbone_weights(backbone: nn.Module, weights: BackboneWeights, strict: bool = True) -> BackboneLoadReport:
    """Copy ``weights`` into ``backbone``; raises naming shape-mismatched keys (and, with ``strict``,
    unexpected missing or unused keys) before anything is copied."""
    own = backbone.state_dict()
    mismatched = _shape_mismatches(own, weights.state)
    missing = sorted(k for k in own if k not in weights.state)
    unused = sorted(k for k in weights.state if k not in own)
    bad_missing = [k for k in missing if not FRESH_INIT.fullmatch(k)]
    bad_unused = [k for k in unused if not UNUSED_OK.fullmatch(k)]
    problems = (
        f"  shape mismatches ({len(mismatched)}): {mismatched}\n"
        f"  backbone keys missing from the file ({len(bad_missing)}): {bad_missing}\n"
        f"  file keys the backbone does not have ({len(bad_unused)}): {bad_unused}"
    )
    if mismatched or (strict and (bad_missing or bad_unused)):
        raise RuntimeError(f"{weights.source} does not fit the {type(backbone).__name__} backbone "
                           f"({weights.source_format} format).\n{problems}\n"
                           "Check the backbone config (depth, widths, window size) against the weights; "
                           "strict=False in init_cfg only tolerates missing / unused keys.")
    if bad_missing or bad_unused:
        print_log(f"{weights.source}: loading with strict=False despite:\n{problems}", logger="current",
                  level=logging.WARNING)
    loaded = sorted(k for k in weights.state if k in own)
    backbone.load_state_dict({k: weights.state[k] for k in loaded}, strict=False)
    return BackboneLoadReport(weights.source, weights.source_format, loaded, missing,
                              sorted(unused + weights.unused))


def init_pretrained_backbone(backbone: nn.Module, init_cfg: Any) -> BackboneLoadReport:
    """Apply a backbone ``init_cfg`` (see the module docstring); logs and returns the report."""
    cfg = check_init_cfg(init_cfg)
    require_backbone_file(cfg["checkpoint"])  # a missing file names where to get it
    weights = read_backbone_weights(cfg["checkpoint"], prefix=cfg.get("prefix"))
    report = load_backbone_weights(backbone, weights, strict=bool(cfg.get("strict", True)))
    print_log(report.summary(), logger="current", level=logging.INFO)
    return report
