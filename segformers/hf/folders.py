"""Read a model folder (transformers ``save_pretrained`` or converted segformers) and write transformers'.

* transformers folder: ``config.json`` + ``model.safetensors`` (or shards / ``pytorch_model.bin``), read
  with the converters of :mod:`segformers.checkpoint.hf`; nothing is downloaded.
* segformers folder: ``config.py`` + ``model.pth`` (what ``tools/convert_checkpoint.py`` writes, or any
  config with a checkpoint next to it).

:func:`save_hf_folder` writes ``config.json`` and ``model.safetensors`` with transformers' key names.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import torch
from mmengine.config import Config
from torch import nn

from segformers.checkpoint.hf import class_names as hf_class_names
from segformers.checkpoint.hf import convert_hf_state_dict, hf_model_cfg, read_hf_folder
from segformers.models.build import build_model, load_config
from segformers.weights_io import load_state_dict_file, load_weights

from .hf_config import ARCHITECTURE, family_of, hf_config_from_model_cfg
from .to_hf_weights import to_hf_state_dict

PathLike = Union[str, Path]
CHECKPOINT_NAMES = ("model.pth", "model.pt", "checkpoint.pth")


@dataclass
class LoadedModel:
    """A built segmentor with what it was read from: its model config, family, class names and the
    transformers config (``None`` for a segformers folder)."""

    segmentor: nn.Module
    model_cfg: dict
    family: str
    class_names: list[str]
    hf_config: Optional[dict]


def _segformers_checkpoint(folder: Path) -> Path:
    for name in CHECKPOINT_NAMES:
        if (folder / name).is_file():
            return folder / name
    found = sorted(p.name for p in folder.glob("*.pth"))
    if len(found) == 1:
        return folder / found[0]
    raise FileNotFoundError(f"{folder}: config.py but no single checkpoint ({' / '.join(CHECKPOINT_NAMES)} or one "
                            f"*.pth; found {found}).")


def load_folder(folder: PathLike) -> LoadedModel:
    """Build the model stored in ``folder`` (transformers or segformers layout) in eval mode."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder; from_pretrained reads a local save_pretrained folder "
                                "(config.json + model.safetensors) or a segformers folder (config.py + model.pth). "
                                "Nothing is downloaded.")
    if (folder / "config.json").is_file():
        config, hf_state = read_hf_folder(folder)
        model_cfg = hf_model_cfg(config)
        model = build_model(Config(dict(model=model_cfg)))
        load_weights(model, convert_hf_state_dict(config, hf_state))
        return LoadedModel(model.eval(), model_cfg, config["model_type"], hf_class_names(config), config)
    if (folder / "config.py").is_file():
        cfg = load_config(folder / "config.py")
        model = build_model(cfg)
        load_weights(model, load_state_dict_file(_segformers_checkpoint(folder)))
        names = list((cfg.get("metainfo") or {}).get("classes") or [])
        model_cfg = cfg.model.to_dict()
        return LoadedModel(model.eval(), model_cfg, family_of(model_cfg), names, None)
    raise FileNotFoundError(f"{folder} holds neither config.json (transformers) nor config.py (segformers).")


def save_hf_folder(segmentor: nn.Module, model_cfg: Optional[dict], folder: PathLike,
                   hf_config: Optional[dict] = None, class_names: Optional[list[str]] = None) -> Path:
    """Write ``folder/config.json`` and ``folder/model.safetensors`` that transformers loads.

    ``hf_config`` (the config a transformers folder was read from) is written back as it was; otherwise
    it is made from ``model_cfg`` (:func:`~segformers.hf.hf_config.hf_config_from_model_cfg`).
    """
    from safetensors.torch import save_file

    if hf_config is None:
        if model_cfg is None:
            raise ValueError("save_pretrained needs the model config (or the transformers config it was read "
                             "from) to write config.json.")
        hf_config = hf_config_from_model_cfg(model_cfg, class_names)
    hf_config = {**hf_config, "architectures": hf_config.get("architectures") or [ARCHITECTURE[hf_config["model_type"]]]}
    state = {k: v.detach().cpu() for k, v in segmentor.state_dict().items()}
    hf_state = to_hf_state_dict(state, hf_config)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(hf_config, indent=2, sort_keys=True) + "\n")
    save_file({k: v.contiguous() for k, v in hf_state.items()}, str(folder / "model.safetensors"),
              metadata={"format": "pt"})
    return folder

