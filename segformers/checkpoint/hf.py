"""Convert a Hugging Face ``save_pretrained`` folder of MaskFormer / Mask2Former into segformers.

Reads ``config.json`` and ``model.safetensors`` (or ``pytorch_model.bin``) with the key names *as
written in the files* (transformers 5.x renames some keys between ``state_dict()`` and the file), and
produces an equivalent segformers model config plus a state dict. ``transformers`` is not needed.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Union

import torch
from mmengine.config import Config
from torch import Tensor

from .hf_backbones import convert_hf_backbone, hf_backbone_cfg
from .hf_pixel_decoders import convert_hf_pixel_decoder, hf_pixel_decoder_cfg
from .hf_transformer_decoders import convert_hf_transformer_decoder, hf_transformer_decoder_cfg

ARCHITECTURES = {
    "Mask2FormerForUniversalSegmentation": "mask2former",
    "MaskFormerForInstanceSegmentation": "maskformer",
}
BACKBONE_PREFIX = "model.pixel_level_module.encoder."
PIXEL_DECODER_PREFIX = "model.pixel_level_module.decoder."
IGNORED_KEYS = ("criterion.empty_weight",)  # rebuilt from num_classes and no_object_weight


def read_hf_folder(hf_dir: Union[str, Path]) -> tuple[dict, dict[str, Tensor]]:
    """``(config.json as dict, state dict as in the file)`` of a ``save_pretrained`` folder; a missing,
    malformed or truncated file, or a config of another model type, raises an error naming the file."""
    hf_dir = Path(hf_dir)
    cfg_file = hf_dir / "config.json"
    if not cfg_file.is_file():
        raise FileNotFoundError(f"{cfg_file} not found: pass the folder written by save_pretrained().")
    config = _read_config(cfg_file)
    shards = sorted(hf_dir.glob("*.safetensors"))
    state: dict[str, Tensor] = {}
    if shards:
        for shard in shards:
            state.update(_read_weights(shard))
    elif (hf_dir / "pytorch_model.bin").is_file():
        state = _read_weights(hf_dir / "pytorch_model.bin")
    else:
        raise FileNotFoundError(f"{hf_dir}: no model.safetensors or pytorch_model.bin next to config.json.")
    return config, state


def _read_config(cfg_file: Path) -> dict:
    try:
        config = json.loads(cfg_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{cfg_file} is not valid JSON ({err}); write it again with save_pretrained().") from err
    if not isinstance(config, dict):
        raise ValueError(f"{cfg_file} holds a JSON {type(config).__name__}, not the object of a model config.")
    try:
        hf_family(config)
    except ValueError as err:
        raise ValueError(f"{cfg_file}: {err}") from err
    return config


def _read_weights(path: Path) -> dict[str, Tensor]:
    """One weight file (safetensors, or a torch ``.bin`` read with ``weights_only=True``)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # safetensors, zip and unpickling errors name no file
        raise ValueError(f"cannot read the weights {path} ({type(err).__name__}: {err}); the file is truncated or "
                         "corrupt: download or save it again.") from err
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict.")
    return state


def hf_family(config: dict) -> str:
    """``"mask2former"`` or ``"maskformer"`` from the HF config's architectures / model_type."""
    for arch in config.get("architectures") or []:
        if arch in ARCHITECTURES:
            return ARCHITECTURES[arch]
    if config.get("model_type") in ("mask2former", "maskformer"):
        return config["model_type"]
    raise ValueError(
        f"Unsupported Hugging Face model {config.get('architectures')} / {config.get('model_type')}; "
        f"expected one of {sorted(ARCHITECTURES)}."
    )


def num_labels(config: dict) -> int:
    """K from ``id2label`` (or ``num_labels``)."""
    if config.get("id2label"):
        return len(config["id2label"])
    if "num_labels" in config:
        return int(config["num_labels"])
    raise ValueError("The HF config has neither id2label nor num_labels; cannot tell the number of classes.")


def hf_criterion_cfg(config: dict, family: str) -> dict:
    """The official set criterion with the HF config's weights (official matcher class cost)."""
    no_obj = float(config.get("no_object_weight", 0.1))
    dice_w = float(config.get("dice_weight", 5.0 if family == "mask2former" else 1.0))
    mask_w = float(config.get("mask_weight", 5.0 if family == "mask2former" else 20.0))
    deep = bool(config.get("use_auxiliary_loss", True))
    if family == "mask2former":
        class_w = float(config.get("class_weight", 2.0))
        points = int(config.get("train_num_points", 12544))
        return dict(
            type="SetCriterion",
            matcher=dict(type="HungarianMatcher", num_points=points, costs=[
                dict(type="ClassCost", weight=class_w), dict(type="MaskBCECost", weight=mask_w),
                dict(type="DiceCost", weight=dice_w)]),
            class_loss=dict(type="CrossEntropyLoss", loss_weight=class_w, no_object_weight=no_obj),
            mask_losses=[dict(type="MaskBCELoss", loss_weight=mask_w), dict(type="DiceLoss", loss_weight=dice_w)],
            num_points=points, oversample_ratio=float(config.get("oversample_ratio", 3.0)),
            importance_sample_ratio=float(config.get("importance_sample_ratio", 0.75)), deep_supervision=deep,
        )
    ce_w = float(config.get("cross_entropy_weight", 1.0))
    return dict(
        type="SetCriterion",
        matcher=dict(type="HungarianMatcher", num_points=None, costs=[
            dict(type="ClassCost", weight=1.0), dict(type="MaskFocalCost", weight=mask_w),
            dict(type="DiceCost", weight=dice_w)]),
        class_loss=dict(type="CrossEntropyLoss", loss_weight=ce_w, no_object_weight=no_obj),
        mask_losses=[dict(type="MaskFocalLoss", loss_weight=mask_w), dict(type="DiceLoss", loss_weight=dice_w)],
        num_points=None, deep_supervision=deep,
    )


def hf_model_cfg(config: dict) -> dict:
    """A segformers ``model`` config equivalent to the HF model config.

    The postprocessor is :class:`~segformers.models.postprocess.hf.HFImageProcessorInference` (semantic
    on; instance on for Mask2Former), so that ``inference()`` on the converted checkpoint gives the same
    maps as the ``transformers`` model followed by ``MaskFormerImageProcessor`` post-processing
    (class and mask scores combined at 1/4 resolution, then resized to the original size). For the
    official MaskFormer / Mask2Former post-processing (mask logits upsampled first) set
    ``model.postprocessor=dict(type="MaskFormerInference", ...)`` in the written config.
    """
    family = hf_family(config)
    decoder = hf_transformer_decoder_cfg(config)
    return dict(
        type="MaskFormer",
        num_classes=num_labels(config),
        data_preprocessor=dict(type="SegDataPreprocessor", size_divisor=32),
        backbone=hf_backbone_cfg(config),
        pixel_decoder=hf_pixel_decoder_cfg(config),
        transformer_decoder=decoder,
        criterion=hf_criterion_cfg(config, family),
        postprocessor=dict(
            type="HFImageProcessorInference", semantic_on=True, instance_on=family == "mask2former",
            panoptic_on=False, threshold=0.5, mask_threshold=0.5, overlap_mask_area_threshold=0.8,
        ),
    )


def convert_hf_state_dict(config: dict, hf_state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Our state dict from the HF file's; raises naming every key that was not converted."""
    remaining = dict(hf_state)
    ours: dict[str, Tensor] = {}
    parts = (
        ("backbone.", convert_hf_backbone, BACKBONE_PREFIX),
        ("pixel_decoder.", convert_hf_pixel_decoder, PIXEL_DECODER_PREFIX),
        ("transformer_decoder.", convert_hf_transformer_decoder, ""),
    )
    for our_prefix, convert, hf_prefix in parts:
        for key, value in convert(remaining, config, hf_prefix).items():
            ours[our_prefix + key] = value
    leftover = sorted(k for k in remaining if k not in IGNORED_KEYS)
    if leftover:
        raise KeyError(f"{len(leftover)} Hugging Face keys were not converted: {leftover}")
    return ours


def class_names(config: dict) -> list[str]:
    """Class names in id order from ``id2label`` (``class_<i>`` when absent)."""
    id2label = config.get("id2label") or {}
    return [str(id2label.get(str(i), id2label.get(i, f"class_{i}"))) for i in range(num_labels(config))]


def convert_hf_folder(hf_dir: Union[str, Path], out_dir: Union[str, Path]) -> tuple[Path, Path]:
    """Write ``out_dir/config.py`` and ``out_dir/model.pth``; returns both paths."""
    config, hf_state = read_hf_folder(hf_dir)
    try:
        state = convert_hf_state_dict(config, hf_state)
    except (KeyError, ValueError) as err:  # a missing key names no file
        raise ValueError(
            f"the weights in {hf_dir} do not fit its config.json (a {hf_family(config)}): {err!s}. "
            "Were both files saved by the same model?"
        ) from err
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = Config(dict(model=hf_model_cfg(config), metainfo=dict(classes=class_names(config))))
    cfg_path, pth_path = out_dir / "config.py", out_dir / "model.pth"
    cfg.dump(str(cfg_path))
    torch.save({k: v.contiguous() for k, v in state.items()}, pth_path)
    return cfg_path, pth_path
