"""Build a model from a config, load weights, and get raw Hugging Face-named logits."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.utils import import_modules_from_strings
from torch import Tensor

from ..registry import MODELS
from ..structures import SegmentationOutput


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
    import segformers.models  # noqa: F401  (registers every component)

    return MODELS.build(cfg.model)


def load_state_dict_file(path: Union[str, Path]) -> dict[str, Tensor]:
    """Read a checkpoint saved by segformers (``torch.load(weights_only=True)``); accepts plain state
    dicts and dicts holding one under ``state_dict`` or ``model``."""
    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a state dict, found {type(obj).__name__}.")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}


def load_weights(model: torch.nn.Module, state: dict[str, Tensor], strict: bool = True) -> None:
    """``load_state_dict`` that names missing, unexpected and shape-mismatched keys."""
    own = model.state_dict()
    mismatched = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in state.items() if k in own and own[k].shape != v.shape
    ]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if mismatched or (strict and (missing or unexpected)):
        raise RuntimeError(
            "Checkpoint does not fit the model.\n"
            f"  missing keys ({len(missing)}): {missing}\n"
            f"  unexpected keys ({len(unexpected)}): {unexpected}\n"
            f"  shape mismatches ({len(mismatched)}): {mismatched}"
        )
    model.load_state_dict(state, strict=strict)


def init_model(
    config: Union[str, Path, Config],
    checkpoint: Optional[Union[str, Path]] = None,
    device: str = "cpu",
) -> torch.nn.Module:
    """Build the model of ``config``, load ``checkpoint`` if given, move to ``device``, eval mode."""
    cfg = load_config(config)
    model = build_model(cfg)
    if checkpoint is not None:
        load_weights(model, load_state_dict_file(checkpoint))
    model.cfg = cfg
    return model.to(device).eval()


def forward_logits(
    model: torch.nn.Module, pixel_values: Tensor, pixel_mask: Optional[Tensor] = None
) -> SegmentationOutput:
    """Raw logits for already-normalized ``pixel_values [B, 3, H, W]`` (what the HF model takes).

    ``pixel_mask [B, H, W]`` is accepted for API compatibility; like the official code (and HF), the
    model does not use it: padded pixels are seen as zeros. Returns ``class_queries_logits [B,Q,K+1]``,
    ``masks_queries_logits [B,Q,H/4,W/4]`` and ``auxiliary_logits`` (one dict per earlier layer).
    NaN or infinite ``pixel_values`` raise ``ValueError`` (they would make every logit NaN), and so do
    non-finite logits from finite inputs (weights holding NaN / inf, or an overflow in low precision).
    """
    if pixel_values.ndim != 4 or pixel_values.shape[1] != 3:
        raise ValueError(f"pixel_values must be [B, 3, H, W], got shape {tuple(pixel_values.shape)}.")
    finite = torch.isfinite(pixel_values).flatten(1).all(1)
    if not bool(finite.all()):
        bad = pixel_values[~finite]
        raise ValueError(
            f"pixel_values hold {int(torch.isnan(bad).sum())} NaN and {int(torch.isinf(bad).sum())} infinite values "
            f"(images {torch.nonzero(~finite).flatten().tolist()} of the batch); check the image decoding and the "
            "normalization (a std of 0?) before the model."
        )
    if pixel_mask is not None and tuple(pixel_mask.shape) != (pixel_values.shape[0], *pixel_values.shape[2:]):
        raise ValueError(
            f"pixel_mask must be [B, H, W] = {(pixel_values.shape[0], *pixel_values.shape[2:])}, "
            f"got {tuple(pixel_mask.shape)}."
        )
    param = next(model.parameters())
    out = model.extract(pixel_values.to(device=param.device, dtype=param.dtype))
    for name, logits in (("class", out.class_logits[-1]), ("mask", out.mask_logits[-1])):
        if not bool(torch.isfinite(logits).all()):
            raise ValueError(
                f"the model gave non-finite {name} logits for finite pixel_values: check its weights for NaN / inf "
                f"(e.g. torch.isfinite over model.state_dict()) or run it in float32 (it runs in {param.dtype})."
            )
    return SegmentationOutput.from_decoder_output(out)
