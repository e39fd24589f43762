"""Hugging Face pixel-decoder weights -> segformers pixel decoders (no ``transformers`` import).

Covers ``Mask2FormerForUniversalSegmentation`` (HF ``Mask2FormerPixelDecoder`` ->
:class:`MSDeformAttnPixelDecoder`) and ``MaskFormerForInstanceSegmentation`` (HF ``MaskFormerPixelDecoder``
-> :class:`FPNPixelDecoder`). Names are those of the *saved* files (``model.safetensors``), which for
the pixel decoders equal ``state_dict()`` in transformers 5.x:

=============================================================  ==============================================
HF (relative to ``model.pixel_level_module.decoder.``)          segformers pixel decoder
=============================================================  ==============================================
Mask2Former
``input_projections.{i}.{0,1}.*`` (i = 0: coarsest)             ``input_proj.{i}.{0,1}.*``
``level_embed``                                                 ``transformer.level_embed``
``encoder.layers.{n}.self_attn.{sampling_offsets,...}.*``       ``transformer.encoder.layers.{n}.self_attn.*``
``encoder.layers.{n}.{fc1,fc2}``                                ``...layers.{n}.{linear1,linear2}``
``encoder.layers.{n}.{self_attn_layer_norm,final_layer_norm}``  ``...layers.{n}.{norm1,norm2}``
``adapter_{k}.0.weight`` / ``adapter_{k}.1.*``                  ``adapter_{k}.weight`` / ``adapter_{k}.norm.*``
``layer_{k}.0.weight`` / ``layer_{k}.1.*``                      ``layer_{k}.weight`` / ``layer_{k}.norm.*``
``mask_projection.*``                                           ``mask_features.*``
MaskFormer (n = number of backbone levels, 4)
``fpn.stem.0.weight`` / ``fpn.stem.1.*``                        ``layer_{n}.weight`` / ``layer_{n}.norm.*``
``fpn.layers.{i}.proj.0.weight`` / ``proj.1.*``                 ``adapter_{n-1-i}.weight`` / ``.norm.*``
``fpn.layers.{i}.block.0.weight`` / ``block.1.*``               ``layer_{n-1-i}.weight`` / ``.norm.*``
``mask_projection.*``                                           ``mask_features.*``
=============================================================  ==============================================
"""
from __future__ import annotations

import re
from typing import Callable

from torch import Tensor

HF_PIXEL_DECODER_PREFIX = "model.pixel_level_module.decoder."

_M2F_RULES: list[tuple[str, str]] = [
    (r"input_projections\.(\d+)\.([01])\.(weight|bias)", r"input_proj.\1.\2.\3"),
    (r"level_embed", r"transformer.level_embed"),
    (
        r"encoder\.layers\.(\d+)\.self_attn\."
        r"(sampling_offsets|attention_weights|value_proj|output_proj)\.(weight|bias)",
        r"transformer.encoder.layers.\1.self_attn.\2.\3",
    ),
    (r"encoder\.layers\.(\d+)\.fc([12])\.(weight|bias)", r"transformer.encoder.layers.\1.linear\2.\3"),
    (r"encoder\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)", r"transformer.encoder.layers.\1.norm1.\2"),
    (r"encoder\.layers\.(\d+)\.final_layer_norm\.(weight|bias)", r"transformer.encoder.layers.\1.norm2.\2"),
    (r"(adapter|layer)_(\d+)\.0\.weight", r"\1_\2.weight"),
    (r"(adapter|layer)_(\d+)\.1\.(weight|bias)", r"\1_\2.norm.\3"),
    (r"mask_projection\.(weight|bias)", r"mask_features.\1"),
]


def _maskformer_rules(num_levels: int) -> list[tuple[str, Callable[[re.Match], str]]]:
    """HF ``fpn.layers.{i}`` runs coarse -> fine, official ``adapter_{k}`` counts fine -> coarse."""
    n = num_levels

    def k(m: re.Match) -> int:
        return n - 1 - int(m.group(1))

    return [
        (r"fpn\.stem\.0\.weight", lambda m: f"layer_{n}.weight"),
        (r"fpn\.stem\.1\.(weight|bias)", lambda m: f"layer_{n}.norm.{m.group(1)}"),
        (r"fpn\.layers\.(\d+)\.proj\.0\.weight", lambda m: f"adapter_{k(m)}.weight"),
        (r"fpn\.layers\.(\d+)\.proj\.1\.(weight|bias)", lambda m: f"adapter_{k(m)}.norm.{m.group(2)}"),
        (r"fpn\.layers\.(\d+)\.block\.0\.weight", lambda m: f"layer_{k(m)}.weight"),
        (r"fpn\.layers\.(\d+)\.block\.1\.(weight|bias)", lambda m: f"layer_{k(m)}.norm.{m.group(2)}"),
        (r"mask_projection\.(weight|bias)", lambda m: f"mask_features.{m.group(1)}"),
    ]


def _model_type(hf_config: dict) -> str:
    model_type = hf_config.get("model_type")
    if model_type not in ("mask2former", "maskformer"):
        raise ValueError(
            f"HF config has model_type={model_type!r}; only the pixel decoders of 'mask2former' "
            "(Mask2FormerForUniversalSegmentation) and 'maskformer' (MaskFormerForInstanceSegmentation) "
            "can be converted."
        )
    return model_type


def _in_features(hf_config: dict) -> list[str]:
    """Backbone outputs ``stage{i}`` -> ``res{i+1}`` (HF backbones number stages from 1 = stride 4)."""
    backbone = hf_config.get("backbone_config") or {}
    stages = backbone.get("out_features") or ["stage1", "stage2", "stage3", "stage4"]
    names = []
    for stage in stages:
        match = re.fullmatch(r"stage(\d+)", stage)
        if match is None:
            raise ValueError(f"HF backbone out_features entry {stage!r} is not of the form 'stage<i>'.")
        names.append(f"res{int(match.group(1)) + 1}")
    return names


def hf_pixel_decoder_cfg(hf_config: dict) -> dict:
    """Our registry config for the pixel decoder of an HF ``config.json`` (a plain dict)."""
    in_features = _in_features(hf_config)
    if _model_type(hf_config) == "maskformer":
        return dict(
            type="FPNPixelDecoder", in_features=in_features, conv_dim=hf_config.get("fpn_feature_size", 256),
            mask_dim=hf_config.get("mask_feature_size", 256), norm="GN",
        )
    # HF's Mask2FormerPixelDecoder hard-codes 3 levels (the last three backbone outputs) and 4 points.
    return dict(
        type="MSDeformAttnPixelDecoder",
        in_features=in_features,
        conv_dim=hf_config.get("feature_size", 256),
        mask_dim=hf_config.get("mask_feature_size", 256),
        norm="GN",
        transformer_in_features=in_features[-3:],
        transformer_enc_layers=hf_config.get("encoder_layers", 6),
        transformer_nheads=hf_config.get("num_attention_heads", 8),
        transformer_dim_feedforward=hf_config.get("encoder_feedforward_dim", 1024),
        transformer_dropout=hf_config.get("dropout", 0.0),
        num_points=4,
        common_stride=hf_config.get("common_stride", 4),
    )


def convert_hf_pixel_decoder(hf_state: dict[str, Tensor], hf_config: dict, prefix: str) -> dict[str, Tensor]:
    """Pop every key under ``prefix`` from ``hf_state``; return them renamed for our pixel decoder.

    ``prefix`` is where the HF pixel decoder lives, normally :data:`HF_PIXEL_DECODER_PREFIX`. Raises
    ``KeyError`` naming any key under ``prefix`` that has no mapping (nothing is popped then).
    """
    prefix = prefix if not prefix or prefix.endswith(".") else prefix + "."
    keys = [k for k in hf_state if k.startswith(prefix)]
    if not keys:
        raise KeyError(
            f"No HF key starts with {prefix!r}; pass the pixel decoder's prefix, "
            f"e.g. {HF_PIXEL_DECODER_PREFIX!r}."
        )
    if _model_type(hf_config) == "mask2former":
        rules: list = _M2F_RULES
    else:
        rules = _maskformer_rules(len(_in_features(hf_config)))
    renamed, unknown = {}, []
    for key in keys:
        rel = key[len(prefix):]
        for pattern, replacement in rules:
            match = re.fullmatch(pattern, rel)
            if match is not None:
                renamed[key] = match.expand(replacement) if isinstance(replacement, str) else replacement(match)
                break
        else:
            unknown.append(rel)
    if unknown:
        raise KeyError(f"HF pixel-decoder keys under {prefix!r} with no mapping: {sorted(unknown)}.")
    return {new: hf_state.pop(old) for old, new in renamed.items()}
