"""Build a model from a config (as detectron2's ``modeling.build_model``); ``segformers.apis`` re-exports it."""
from __future__ import annotations

from pathlib import Path
from typing import Union

import torch
from mmengine.config import Config
from mmengine.utils import import_modules_from_strings

from ..registry import MODELS


def load_config(config: Union[str, Path, Config]) -> Config:
    """A :class:`Config` from a path or a Config, with its ``custom_imports`` imported."""
    if isinstance(config, (str, Path)):
        return Config.fromfile(str(config))
    if not isinstance(config, Config):
        raise TypeError(f"config must be a path or an mmengine Config, got {type(config).__name__}.")
    if config.get("custom_imports"):
        import_modules_from_strings(**config["custom_imports"])
    return config


def build_model(config: Union[str, Path, Config]) -> torch.nn.Module:
    """Build ``config.model`` through the segformers ``MODELS`` registry."""
    cfg = load_config(config)
    if "model" not in cfg:
        raise KeyError("The config has no 'model' entry; inherit a file from configs/_base_/models/.")
    return MODELS.build(cfg.model)
