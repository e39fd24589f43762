"""Convert official MaskFormer / Mask2Former checkpoints (detectron2 ``model_final_*.pkl``) into segformers.

The files are pickled ``{"model": {name: numpy array}, "__author__": ...}`` (official.md §4.2), read with
the restricted unpickler of :mod:`segformers.weights_io`. Our names are the official ones minus
``sem_seg_head.`` (docs/architecture.md), so the conversion is a prefix rename plus the legacy names:

* ``sem_seg_head.predictor.*`` -> ``transformer_decoder.*``, with Mask2Former's old ``static_query`` ->
  ``query_feat``;
* ``sem_seg_head.pixel_decoder.*`` -> ``pixel_decoder.*``; MaskFormer ResNet files keep the pixel decoder
  directly under ``sem_seg_head.`` (``sem_seg_head.layer_4.*``, ...), which goes to ``pixel_decoder.*`` too;
* ``criterion.empty_weight`` is dropped (rebuilt from the config), ``pixel_mean`` / ``pixel_std`` only
  feed the inferred config.

Without a config, one is inferred from the weights (family, backbone type and sizes, pixel decoder type,
classes, queries, layer counts, widths) on top of the matching ``configs/_base_/models`` file, which
the package ships as ``segformers/base_configs/models`` (package data). Either way
the weights are checked against the built model and every missing / unexpected / mis-shaped key is named.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Union

import torch
from mmengine.config import Config
from torch import Tensor

from ..models.build import build_model
from ..weights_io import extract_state_dict, load_weights, read_weights_file
from .backbones import count_indices, infer_backbone_cfg

PathLike = Union[str, Path]
# package data (setup.cfg): the repository's configs/_base_ through a link, copied into a built wheel
BASE_CONFIGS = Path(__file__).resolve().parents[1] / "base_configs" / "models"
LEGACY_PIXEL_DECODER = re.compile(r"(layer_\d+|adapter_\d+|mask_features|input_proj|transformer)\..+")
DROPPED_KEYS = ("criterion.empty_weight", "pixel_mean", "pixel_std")


def rename_official_key(key: str) -> Optional[str]:
    """Our name for an official state-dict key, or ``None`` if it is not part of the official layout."""
    if key.startswith("backbone."):
        return key
    if key.startswith("sem_seg_head.predictor."):
        rest = key[len("sem_seg_head.predictor."):]
        return "transformer_decoder." + re.sub(r"(^|\.)static_query\.", r"\1query_feat.", rest)
    if key.startswith("sem_seg_head.pixel_decoder."):
        return "pixel_decoder." + key[len("sem_seg_head.pixel_decoder."):]
    rest = key[len("sem_seg_head."):] if key.startswith("sem_seg_head.") else ""
    if LEGACY_PIXEL_DECODER.fullmatch(rest):  # MaskFormer ResNet files, official.md §4.2
        return "pixel_decoder." + rest
    return None


def convert_official_state_dict(
    state: dict[str, Tensor], source: PathLike = "<state dict>"
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """``(our state dict, dropped entries)``; raises ``KeyError`` naming every key it cannot place."""
    ours: dict[str, Tensor] = {}
    dropped: dict[str, Tensor] = {}
    unknown = []
    for key, value in state.items():
        if key in DROPPED_KEYS:
            dropped[key] = value
            continue
        name = rename_official_key(key)
        if name is None:
            unknown.append(key)
        elif name in ours:
            raise KeyError(f"{source}: two keys map to '{name}' (a file with both static_query and query_feat?).")
        else:
            ours[name] = value
    if unknown:
        raise KeyError(f"{source}: {len(unknown)} keys are not in the official MaskFormer / Mask2Former layout "
                       f"(backbone.*, sem_seg_head.*, criterion.empty_weight): {sorted(unknown)}")
    if not any(k.startswith("transformer_decoder.") for k in ours):
        raise ValueError(f"{source}: no sem_seg_head.predictor.* weights; for backbone-only files use "
                         "`tools/convert_checkpoint.py backbone`.")
    return ours, dropped


def read_official_checkpoint(path: PathLike) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Read ``model_final_*.pkl`` (or a detectron2 ``.pth``) and convert it; see :func:`convert_official_state_dict`."""
    return convert_official_state_dict(extract_state_dict(read_weights_file(path), path), path)


# --- config inference ----------------------------------------------------------------------------

def _under(state: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def model_family(state: dict[str, Tensor]) -> str:
    """``"mask2former"`` (masked-attention decoder) or ``"maskformer"`` (DETR decoder) from our keys."""
    if "transformer_decoder.query_feat.weight" in state:
        return "mask2former"
    if any(k.startswith("transformer_decoder.transformer.decoder.") for k in state):
        return "maskformer"
    raise ValueError("Cannot tell MaskFormer from Mask2Former: the transformer decoder has neither "
                     "query_feat (static_query) nor transformer.decoder.* weights.")


def infer_pixel_decoder_cfg(pd: dict[str, Tensor], base: dict) -> dict:
    """Pixel decoder config from its weights (keys without ``pixel_decoder.``); ``base`` gives the rest."""
    common = dict(mask_dim=pd["mask_features.weight"].shape[0], norm=base.get("norm", "GN"))
    if "transformer.level_embed" in pd:
        levels, conv_dim = pd["transformer.level_embed"].shape
        points = base.get("num_points", 4)
        heads = pd["transformer.encoder.layers.0.self_attn.attention_weights.weight"].shape[0] // (levels * points)
        finest_stride = 2 ** (6 - levels)  # the transformer reads the coarsest `levels` of res2..res5
        return dict(type="MSDeformAttnPixelDecoder", conv_dim=conv_dim, **common,
                    transformer_in_features=["res2", "res3", "res4", "res5"][4 - levels:],
                    transformer_enc_layers=count_indices(pd, r"transformer\.encoder\.layers\.(\d+)\."),
                    transformer_nheads=heads, transformer_dropout=0.0, num_points=points,
                    transformer_dim_feedforward=pd["transformer.encoder.layers.0.linear1.weight"].shape[0],
                    common_stride=finest_stride // 2 ** count_indices(pd, r"adapter_(\d+)\."))
    if "input_proj.weight" in pd:
        return dict(type="TransformerEncoderPixelDecoder", conv_dim=pd["input_proj.weight"].shape[0], **common,
                    transformer_enc_layers=count_indices(pd, r"transformer\.encoder\.layers\.(\d+)\."),
                    transformer_dim_feedforward=pd["transformer.encoder.layers.0.linear1.weight"].shape[0],
                    transformer_pre_norm="transformer.encoder.norm.weight" in pd,
                    transformer_nheads=8, transformer_dropout=0.1)  # MaskFormer's NHEADS / DROPOUT
    return dict(type="FPNPixelDecoder", conv_dim=pd["layer_1.weight"].shape[0], **common)


def _projects_same_width(td: dict[str, Tensor], key: str, hidden: int) -> bool:
    """``enforce_input_project``: a 1x1 input projection exists although the widths already agree."""
    return key in td and td[key].shape[1] == hidden


def infer_transformer_decoder_cfg(td: dict[str, Tensor], family: str, pixel_decoder: str, base: dict) -> dict:
    """Transformer decoder config from its weights (keys without ``transformer_decoder.``) over ``base``."""
    queries, hidden = td["query_embed.weight"].shape
    cfg = dict(base, num_queries=queries, hidden_dim=hidden,
               mask_embed_layers=count_indices(td, r"mask_embed\.layers\.(\d+)\."))
    if family == "mask2former":
        cfg.update(dec_layers=count_indices(td, r"transformer_self_attention_layers\.(\d+)\."),
                   num_feature_levels=td["level_embed.weight"].shape[0],
                   dim_feedforward=td["transformer_ffn_layers.0.linear1.weight"].shape[0],
                   enforce_input_project=_projects_same_width(td, "input_proj.0.weight", hidden))
        return cfg
    cfg.update(dec_layers=count_indices(td, r"transformer\.decoder\.layers\.(\d+)\."),
               dim_feedforward=td["transformer.decoder.layers.0.linear1.weight"].shape[0],
               pre_norm="transformer.encoder.norm.weight" in td,
               enforce_input_project=_projects_same_width(td, "input_proj.weight", hidden),
               in_feature="encoder" if pixel_decoder == "TransformerEncoderPixelDecoder" else "res5")
    return cfg


def base_model_config(family: str, backbone: str) -> dict:
    """The ``model`` dict of the package's ``base_configs/models/{family}_{backbone}.py``
    (``family`` ``"mask2former"`` / ``"maskformer"``, ``backbone`` ``"r50"`` / ``"swin-t"``)."""
    path = BASE_CONFIGS / f"{family}_{backbone}.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the base model config is missing from the installed package "
                                "(package data of setup.cfg); reinstall segformers.")
    return Config.fromfile(str(path)).model.to_dict()


def infer_model_cfg(state: dict[str, Tensor], dropped: Optional[dict[str, Tensor]] = None) -> dict:
    """A segformers ``model`` config for converted official weights, over the matching base config."""
    family = model_family(state)
    backbone_state = _under(state, "backbone.")
    backbone = infer_backbone_cfg(backbone_state)
    swin = backbone["type"] == "SwinTransformer"
    base = base_model_config(family, "swin-t" if swin else "r50")
    if not swin:
        has_stats = any(k.endswith("num_batches_tracked") for k in backbone_state)
        backbone = {**base["backbone"], **backbone, "norm": "SyncBN" if has_stats else base["backbone"]["norm"]}
    pixel_decoder = infer_pixel_decoder_cfg(_under(state, "pixel_decoder."), base["pixel_decoder"])
    td = _under(state, "transformer_decoder.")
    decoder = infer_transformer_decoder_cfg(td, family, pixel_decoder["type"], base["transformer_decoder"])
    model = dict(base, backbone=backbone, pixel_decoder=pixel_decoder, transformer_decoder=decoder,
                 num_classes=td["class_embed.weight"].shape[0] - 1)
    dropped = dropped or {}
    if "pixel_mean" in dropped and "pixel_std" in dropped:
        model["data_preprocessor"] = dict(model["data_preprocessor"], mean=dropped["pixel_mean"].flatten().tolist(),
                                          std=dropped["pixel_std"].flatten().tolist())
    return model


# --- conversion ----------------------------------------------------------------------------------

def check_against_config(config: Union[PathLike, Config], state: dict[str, Tensor], source: PathLike) -> None:
    """Build the model of ``config`` and load ``state`` strictly; raises naming every key that does not fit."""
    model = build_model(config)
    try:
        load_weights(model, state, strict=True)
    except RuntimeError as err:
        raise RuntimeError(f"{source}: the converted weights do not fit the model config.\n{err}") from err


def convert_official_checkpoint(
    src: PathLike, out_dir: PathLike, config: Optional[PathLike] = None
) -> tuple[Optional[Path], Path]:
    """Write ``out_dir/model.pth`` and, without ``config``, the inferred ``out_dir/config.py``.

    Returns ``(config path or None, weights path)``; the weights are checked against the (given or
    inferred) config first, so nothing is written for a file that does not fit.
    """
    state, dropped = read_official_checkpoint(src)
    out_dir = Path(out_dir)
    cfg_path = None
    if config is None:
        try:
            cfg = Config(dict(model=infer_model_cfg(state, dropped)))
        except KeyError as err:
            raise ValueError(f"{src}: cannot infer a config, the weights lack {err}; pass --config with the "
                             "exact segformers config to get every missing key listed.") from err
        check_against_config(cfg, state, src)
        out_dir.mkdir(parents=True, exist_ok=True)
        cfg_path = out_dir / "config.py"
        cfg.dump(str(cfg_path))
    else:
        check_against_config(config, state, src)
        out_dir.mkdir(parents=True, exist_ok=True)
    pth_path = out_dir / "model.pth"
    torch.save({k: v.contiguous() for k, v in state.items()}, pth_path)
    return cfg_path, pth_path
