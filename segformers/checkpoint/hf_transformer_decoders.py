"""Hugging Face ``Mask2FormerForUniversalSegmentation`` / ``MaskFormerForInstanceSegmentation`` transformer
decoders -> our ``MultiScaleMaskedTransformerDecoder`` / ``StandardTransformerDecoder`` (no ``transformers``
import: plain state dicts and the saved ``config.json`` as a dict).

Key names are those written by ``save_pretrained`` (transformers 5.x renames some modules in memory, e.g.
MaskFormer's ``out_proj -> o_proj`` and ``fc1 -> mlp.fc1``; the in-memory names are accepted as well).
HF splits ``nn.MultiheadAttention``'s packed projection into ``q_proj/k_proj/v_proj`` except in Mask2Former's
cross-attention; they are concatenated back in ``q, k, v`` order.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["convert_hf_transformer_decoder", "hf_transformer_decoder_cfg"]

# Defaults of the HF configs, used when a (older) config.json omits a key.
_M2F_DEFAULTS = dict(hidden_dim=256, num_queries=100, num_attention_heads=8, dim_feedforward=2048,
                     decoder_layers=10, pre_norm=False, enforce_input_projection=False, dropout=0.0)
_DETR_DEFAULTS = dict(d_model=256, num_queries=100, decoder_attention_heads=8, decoder_ffn_dim=2048,
                      decoder_layers=6, dropout=0.1)


def _model_type(hf_config: dict) -> str:
    model_type = hf_config.get("model_type")
    if model_type not in ("mask2former", "maskformer"):
        raise ValueError(
            f"hf_config['model_type'] is {model_type!r}; expected 'mask2former' "
            "(Mask2FormerForUniversalSegmentation) or 'maskformer' (MaskFormerForInstanceSegmentation). "
            "Pass the model's saved config.json as a dict."
        )
    return model_type


def _pop_any(state: dict[str, Tensor], keys: list[str]) -> Tensor:
    for key in keys:
        if key in state:
            return state.pop(key)
    raise KeyError(
        f"HF state dict has none of {keys}. Check `prefix` (the prefix of the *ForUniversalSegmentation / "
        "*ForInstanceSegmentation model's keys, usually '') and that hf_config matches the weights."
    )


def _move(state: dict[str, Tensor], out: dict[str, Tensor], srcs: list[str], dst: str,
          names: tuple[str, ...] = ("weight", "bias")) -> None:
    """Pop ``{src}{name}`` (first ``src`` present) into ``out[{dst}{name}]`` for every name."""
    for name in names:
        out[dst + name] = _pop_any(state, [src + name for src in srcs])


def _move_qkv(state: dict[str, Tensor], out: dict[str, Tensor], src: str, dst: str) -> None:
    """Pop ``{src}{q,k,v}_proj.{weight,bias}`` and pack them into ``{dst}in_proj_{weight,bias}``."""
    for name in ("weight", "bias"):
        parts = [_pop_any(state, [f"{src}{p}_proj.{name}"]) for p in ("q", "k", "v")]
        out[f"{dst}in_proj_{name}"] = torch.cat(parts, dim=0)


def _move_mlp(state: dict[str, Tensor], out: dict[str, Tensor], src: str, dst: str) -> None:
    """HF ``{src}{j}.0.*`` (Linear inside a prediction block) -> ``{dst}layers.{j}.*`` for every layer present."""
    j = 0
    while f"{src}{j}.0.weight" in state:
        _move(state, out, [f"{src}{j}.0."], f"{dst}layers.{j}.")
        j += 1
    if j == 0:
        raise KeyError(f"HF state dict has no mask embedder under '{src}'. Check `prefix`.")


def _check_consumed(state: dict[str, Tensor], prefix: str) -> None:
    left = sorted(k for k in state if k.startswith(prefix))
    if left:
        raise KeyError(
            f"{len(left)} HF transformer-decoder keys were not converted (config and weights disagree?), "
            f"e.g. {left[:5]}."
        )


def _convert_mask2former(state: dict[str, Tensor], cfg: dict, prefix: str) -> dict[str, Tensor]:
    t = f"{prefix}model.transformer_module."
    d = f"{t}decoder."
    out: dict[str, Tensor] = {}
    out["query_feat.weight"] = _pop_any(state, [f"{t}queries_features.weight"])
    out["query_embed.weight"] = _pop_any(state, [f"{t}queries_embedder.weight"])
    out["level_embed.weight"] = _pop_any(state, [f"{t}level_embed.weight"])
    for i in range(out["level_embed.weight"].shape[0]):
        if f"{t}input_projections.{i}.weight" in state:
            _move(state, out, [f"{t}input_projections.{i}."], f"input_proj.{i}.")
    for i in range(cfg.get("decoder_layers", _M2F_DEFAULTS["decoder_layers"]) - 1):
        src, sa = f"{d}layers.{i}.", f"transformer_self_attention_layers.{i}."
        ca, ffn = f"transformer_cross_attention_layers.{i}.", f"transformer_ffn_layers.{i}."
        _move_qkv(state, out, f"{src}self_attn.", f"{sa}self_attn.")
        _move(state, out, [f"{src}self_attn.out_proj.", f"{src}self_attn.o_proj."], f"{sa}self_attn.out_proj.")
        _move(state, out, [f"{src}self_attn_layer_norm."], f"{sa}norm.")
        _move(state, out, [f"{src}cross_attn."], f"{ca}multihead_attn.", ("in_proj_weight", "in_proj_bias"))
        _move(state, out, [f"{src}cross_attn.out_proj."], f"{ca}multihead_attn.out_proj.")
        _move(state, out, [f"{src}cross_attn_layer_norm."], f"{ca}norm.")
        _move(state, out, [f"{src}fc1.", f"{src}mlp.fc1."], f"{ffn}linear1.")
        _move(state, out, [f"{src}fc2.", f"{src}mlp.fc2."], f"{ffn}linear2.")
        _move(state, out, [f"{src}final_layer_norm."], f"{ffn}norm.")
    _move(state, out, [f"{d}layernorm."], "decoder_norm.")
    _move_mlp(state, out, f"{d}mask_predictor.mask_embedder.", "mask_embed.")
    _move(state, out, [f"{prefix}class_predictor."], "class_embed.")
    _check_consumed(state, t)
    return out


def _convert_maskformer(state: dict[str, Tensor], cfg: dict, prefix: str) -> dict[str, Tensor]:
    t = f"{prefix}model.transformer_module."
    out: dict[str, Tensor] = {}
    out["query_embed.weight"] = _pop_any(state, [f"{t}queries_embedder.weight"])
    if f"{t}input_projection.weight" in state:
        _move(state, out, [f"{t}input_projection."], "input_proj.")
    detr = {**_DETR_DEFAULTS, **(cfg.get("decoder_config") or {})}
    for i in range(detr["decoder_layers"]):
        src, dst = f"{t}decoder.layers.{i}.", f"transformer.decoder.layers.{i}."
        for hf_attn, attn in (("self_attn", "self_attn"), ("encoder_attn", "multihead_attn")):
            _move_qkv(state, out, f"{src}{hf_attn}.", f"{dst}{attn}.")
            _move(state, out, [f"{src}{hf_attn}.out_proj.", f"{src}{hf_attn}.o_proj."], f"{dst}{attn}.out_proj.")
        _move(state, out, [f"{src}fc1.", f"{src}mlp.fc1."], f"{dst}linear1.")
        _move(state, out, [f"{src}fc2.", f"{src}mlp.fc2."], f"{dst}linear2.")
        _move(state, out, [f"{src}self_attn_layer_norm."], f"{dst}norm1.")
        _move(state, out, [f"{src}encoder_attn_layer_norm."], f"{dst}norm2.")
        _move(state, out, [f"{src}final_layer_norm."], f"{dst}norm3.")
    _move(state, out, [f"{t}decoder.layernorm."], "transformer.decoder.norm.")
    _move_mlp(state, out, f"{prefix}mask_embedder.", "mask_embed.")
    _move(state, out, [f"{prefix}class_predictor."], "class_embed.")
    _check_consumed(state, t)
    return out


def convert_hf_transformer_decoder(hf_state: dict[str, Tensor], hf_config: dict, prefix: str = "") -> dict[str, Tensor]:
    """Pop every HF key of the transformer decoder, its class predictor and mask embedder from ``hf_state``
    and return them renamed relative to our decoder (load with ``decoder.load_state_dict(out)``).

    Args:
        hf_state: the HF model's saved state dict (mutated: consumed keys are removed).
        hf_config: the saved ``config.json`` as a dict (``model_type`` selects Mask2Former / MaskFormer).
        prefix: prefix of the ``*ForUniversalSegmentation`` / ``*ForInstanceSegmentation`` keys in
            ``hf_state`` (``""`` for a file written by ``save_pretrained``; a trailing dot is optional).
    """
    prefix = prefix.rstrip(".") + "." if prefix else ""
    if _model_type(hf_config) == "mask2former":
        return _convert_mask2former(hf_state, hf_config, prefix)
    return _convert_maskformer(hf_state, hf_config, prefix)


def hf_transformer_decoder_cfg(hf_config: dict) -> dict[str, Any]:
    """Our ``TRANSFORMER_DECODERS`` config equivalent to the HF model's decoder.

    ``num_classes`` (``len(id2label)``) and ``input_shape`` (``in_channels``, ``mask_dim`` = HF
    ``mask_feature_size``) are injected by the segmentor and therefore not included; deep supervision
    (``use_auxiliary_loss``) is the criterion's (:func:`segformers.checkpoint.hf.hf_criterion_cfg`).
    """
    if _model_type(hf_config) == "mask2former":
        c = {**_M2F_DEFAULTS, **hf_config}
        return dict(
            type="MultiScaleMaskedTransformerDecoder", in_feature="multi_scale", num_feature_levels=3,
            hidden_dim=c["hidden_dim"], num_queries=c["num_queries"], nheads=c["num_attention_heads"],
            dim_feedforward=c["dim_feedforward"], dec_layers=c["decoder_layers"] - 1, pre_norm=c["pre_norm"],
            enforce_input_project=c["enforce_input_projection"], dropout=c["dropout"], mask_embed_layers=3,
        )
    d = {**_DETR_DEFAULTS, **(hf_config.get("decoder_config") or {})}
    return dict(
        type="StandardTransformerDecoder", in_feature="res5", hidden_dim=d["d_model"],
        num_queries=d["num_queries"], nheads=d["decoder_attention_heads"], dropout=d["dropout"],
        dim_feedforward=d["decoder_ffn_dim"], dec_layers=d["decoder_layers"], pre_norm=False,
        enforce_input_project=False, mask_embed_layers=3,
    )
