"""segformers state dict -> the state dict a transformers ``save_pretrained`` file holds (its key names).

The inverse of :mod:`segformers.checkpoint.hf` (and its ``hf_backbones`` / ``hf_pixel_decoders`` /
``hf_transformer_decoders``): every rename rule here undoes one there. The forward converter stays the
reference: :func:`to_hf_state_dict` runs it on its own result and raises unless that gives back the
input exactly, so the two directions cannot drift apart unnoticed.
"""
from __future__ import annotations

import re
from typing import Callable, Optional, Union

import torch
from torch import Tensor

from segformers.checkpoint.hf import BACKBONE_PREFIX, PIXEL_DECODER_PREFIX, convert_hf_state_dict, hf_family

Name = Union[None, str, tuple[str, str, str]]  # dropped, renamed, or split into (q, k, v) rows
Rule = tuple[str, Callable[[re.Match], Name]]
_BN = r"(weight|bias|running_mean|running_var)"
_WB = r"(weight|bias)"
TRANSFORMER = "model.transformer_module."


def _qkv(template: str) -> tuple[str, str, str]:
    return tuple(template.format(p) for p in ("q", "k", "v"))  # type: ignore[return-value]


_RESNET: list[Rule] = [
    (r"(.*)\.num_batches_tracked", lambda m: None),  # HF's own counters are written by _resnet_counters
    (r"stem\.conv1\.weight", lambda m: "embedder.embedder.convolution.weight"),
    (rf"stem\.conv1\.norm\.{_BN}", lambda m: f"embedder.embedder.normalization.{m[1]}"),
    (r"res(\d)\.(\d+)\.conv(\d)\.weight",
     lambda m: f"encoder.stages.{int(m[1]) - 2}.layers.{m[2]}.layer.{int(m[3]) - 1}.convolution.weight"),
    (rf"res(\d)\.(\d+)\.conv(\d)\.norm\.{_BN}",
     lambda m: f"encoder.stages.{int(m[1]) - 2}.layers.{m[2]}.layer.{int(m[3]) - 1}.normalization.{m[4]}"),
    (r"res(\d)\.(\d+)\.shortcut\.weight",
     lambda m: f"encoder.stages.{int(m[1]) - 2}.layers.{m[2]}.shortcut.convolution.weight"),
    (rf"res(\d)\.(\d+)\.shortcut\.norm\.{_BN}",
     lambda m: f"encoder.stages.{int(m[1]) - 2}.layers.{m[2]}.shortcut.normalization.{m[3]}"),
]
_SWIN_BLOCK = {"norm1": "layernorm_before", "norm2": "layernorm_after", "attn.proj": "attention.output.dense",
               "mlp.fc1": "intermediate.dense", "mlp.fc2": "output.dense"}


def _swin_rules(maskformer: bool) -> list[Rule]:
    """``SwinBackbone`` names (Mask2Former) or ``MaskFormerSwinBackbone`` names (MaskFormer: ``model.``
    prefix, numbered output norms, a saved ``relative_position_index``)."""
    body = "model." if maskformer else ""
    block = r"layers\.(\d+)\.blocks\.(\d+)\."

    def hf_block(m: re.Match) -> str:
        return f"{body}encoder.layers.{m[1]}.blocks.{m[2]}."

    return [
        (rf"patch_embed\.proj\.{_WB}", lambda m: f"{body}embeddings.patch_embeddings.projection.{m[1]}"),
        (rf"patch_embed\.norm\.{_WB}", lambda m: f"{body}embeddings.norm.{m[1]}"),
        (rf"norm(\d)\.{_WB}", lambda m: (f"hidden_states_norms.{m[1]}" if maskformer
                                          else f"hidden_states_norms.stage{int(m[1]) + 1}") + f".{m[2]}"),
        (rf"layers\.(\d+)\.downsample\.(reduction|norm)\.{_WB}",
         lambda m: f"{body}encoder.layers.{m[1]}.downsample.{m[2]}.{m[3]}"),
        (block + r"attn\.relative_position_bias_table",
         lambda m: hf_block(m) + "attention.self.relative_position_bias_table"),
        (block + r"attn\.relative_position_index",
         lambda m: hf_block(m) + "attention.self.relative_position_index" if maskformer else None),
        (block + rf"attn\.qkv\.{_WB}",
         lambda m: tuple(hf_block(m) + f"attention.self.{p}.{m[3]}" for p in ("query", "key", "value"))),
        (block + rf"({'|'.join(re.escape(k) for k in _SWIN_BLOCK)})\.{_WB}",
         lambda m: hf_block(m) + f"{_SWIN_BLOCK[m[3]]}.{m[4]}"),
    ]


_M2F_PIXEL: list[Rule] = [
    (rf"input_proj\.(\d+)\.([01])\.{_WB}", lambda m: f"input_projections.{m[1]}.{m[2]}.{m[3]}"),
    (r"transformer\.level_embed", lambda m: "level_embed"),
    (rf"transformer\.encoder\.layers\.(\d+)\.self_attn\.(\w+)\.{_WB}",
     lambda m: f"encoder.layers.{m[1]}.self_attn.{m[2]}.{m[3]}"),
    (rf"transformer\.encoder\.layers\.(\d+)\.linear([12])\.{_WB}", lambda m: f"encoder.layers.{m[1]}.fc{m[2]}.{m[3]}"),
    (rf"transformer\.encoder\.layers\.(\d+)\.norm([12])\.{_WB}",
     lambda m: f"encoder.layers.{m[1]}.{'self_attn' if m[2] == '1' else 'final'}_layer_norm.{m[3]}"),
    (r"(adapter|layer)_(\d+)\.weight", lambda m: f"{m[1]}_{m[2]}.0.weight"),
    (rf"(adapter|layer)_(\d+)\.norm\.{_WB}", lambda m: f"{m[1]}_{m[2]}.1.{m[3]}"),
    (rf"mask_features\.{_WB}", lambda m: f"mask_projection.{m[1]}"),
]


def _fpn_rules(num_levels: int) -> list[Rule]:
    """HF ``fpn.layers.{i}`` run coarse -> fine; our ``adapter_{k}`` / ``layer_{k}`` fine -> coarse."""
    n = num_levels
    return [
        (r"layer_(\d+)\.weight", lambda m: "fpn.stem.0.weight" if int(m[1]) == n
         else f"fpn.layers.{n - 1 - int(m[1])}.block.0.weight"),
        (rf"layer_(\d+)\.norm\.{_WB}", lambda m: f"fpn.stem.1.{m[2]}" if int(m[1]) == n
         else f"fpn.layers.{n - 1 - int(m[1])}.block.1.{m[2]}"),
        (r"adapter_(\d+)\.weight", lambda m: f"fpn.layers.{n - 1 - int(m[1])}.proj.0.weight"),
        (rf"adapter_(\d+)\.norm\.{_WB}", lambda m: f"fpn.layers.{n - 1 - int(m[1])}.proj.1.{m[2]}"),
        (rf"mask_features\.{_WB}", lambda m: f"mask_projection.{m[1]}"),
    ]


def _m2f_decoder_rules() -> list[Rule]:
    t, d = TRANSFORMER, TRANSFORMER + "decoder.layers."
    return [
        (r"query_feat\.weight", lambda m: f"{t}queries_features.weight"),
        (r"query_embed\.weight", lambda m: f"{t}queries_embedder.weight"),
        (r"level_embed\.weight", lambda m: f"{t}level_embed.weight"),
        (rf"input_proj\.(\d+)\.{_WB}", lambda m: f"{t}input_projections.{m[1]}.{m[2]}"),
        (rf"transformer_self_attention_layers\.(\d+)\.self_attn\.in_proj_{_WB}",
         lambda m: _qkv(f"{d}{m[1]}.self_attn.{{}}_proj.{m[2]}")),
        (rf"transformer_self_attention_layers\.(\d+)\.self_attn\.out_proj\.{_WB}",
         lambda m: f"{d}{m[1]}.self_attn.out_proj.{m[2]}"),
        (rf"transformer_self_attention_layers\.(\d+)\.norm\.{_WB}", lambda m: f"{d}{m[1]}.self_attn_layer_norm.{m[2]}"),
        (rf"transformer_cross_attention_layers\.(\d+)\.multihead_attn\.(in_proj_weight|in_proj_bias)",
         lambda m: f"{d}{m[1]}.cross_attn.{m[2]}"),
        (rf"transformer_cross_attention_layers\.(\d+)\.multihead_attn\.out_proj\.{_WB}",
         lambda m: f"{d}{m[1]}.cross_attn.out_proj.{m[2]}"),
        (rf"transformer_cross_attention_layers\.(\d+)\.norm\.{_WB}", lambda m: f"{d}{m[1]}.cross_attn_layer_norm.{m[2]}"),
        (rf"transformer_ffn_layers\.(\d+)\.linear([12])\.{_WB}", lambda m: f"{d}{m[1]}.fc{m[2]}.{m[3]}"),
        (rf"transformer_ffn_layers\.(\d+)\.norm\.{_WB}", lambda m: f"{d}{m[1]}.final_layer_norm.{m[2]}"),
        (rf"decoder_norm\.{_WB}", lambda m: f"{t}decoder.layernorm.{m[1]}"),
        (rf"mask_embed\.layers\.(\d+)\.{_WB}", lambda m: f"{t}decoder.mask_predictor.mask_embedder.{m[1]}.0.{m[2]}"),
        (rf"class_embed\.{_WB}", lambda m: f"class_predictor.{m[1]}"),
    ]


def _detr_decoder_rules() -> list[Rule]:
    t, d = TRANSFORMER, TRANSFORMER + "decoder.layers."
    attn = {"self_attn": "self_attn", "multihead_attn": "encoder_attn"}
    norms = {"1": "self_attn_layer_norm", "2": "encoder_attn_layer_norm", "3": "final_layer_norm"}
    layer = r"transformer\.decoder\.layers\.(\d+)\."
    return [
        (r"query_embed\.weight", lambda m: f"{t}queries_embedder.weight"),
        (rf"input_proj\.{_WB}", lambda m: f"{t}input_projection.{m[1]}"),
        (layer + rf"(self_attn|multihead_attn)\.in_proj_{_WB}",
         lambda m: _qkv(f"{d}{m[1]}.{attn[m[2]]}.{{}}_proj.{m[3]}")),
        (layer + rf"(self_attn|multihead_attn)\.out_proj\.{_WB}",
         lambda m: f"{d}{m[1]}.{attn[m[2]]}.out_proj.{m[3]}"),
        (layer + rf"linear([12])\.{_WB}", lambda m: f"{d}{m[1]}.fc{m[2]}.{m[3]}"),
        (layer + rf"norm([123])\.{_WB}", lambda m: f"{d}{m[1]}.{norms[m[2]]}.{m[3]}"),
        (rf"transformer\.decoder\.norm\.{_WB}", lambda m: f"{t}decoder.layernorm.{m[1]}"),
        (rf"mask_embed\.layers\.(\d+)\.{_WB}", lambda m: f"mask_embedder.{m[1]}.0.{m[2]}"),
        (rf"class_embed\.{_WB}", lambda m: f"class_predictor.{m[1]}"),
    ]


def _rename(state: dict[str, Tensor], rules: list[Rule], prefix: str, what: str) -> dict[str, Tensor]:
    """Every ``state`` key through the first matching rule (``KeyError`` naming any without one)."""
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        name = _match(rules, key, what)
        if isinstance(name, tuple):
            for part_name, part in zip(name, value.chunk(3, dim=0)):
                out[prefix + part_name] = part
        elif name is not None:
            out[prefix + name] = value
    return out


def _match(rules: list[Rule], key: str, what: str) -> Name:
    for pattern, rename in rules:
        if m := re.fullmatch(pattern, key):
            return rename(m)
    raise KeyError(f"{what} weight {key!r} has no Hugging Face name: transformers' MaskFormer / Mask2Former "
                   "cannot hold this part (see docs/hf_model.md for what save_pretrained supports).")


def _part(state: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _backbone_rules(hf_config: dict) -> tuple[list[Rule], bool]:
    backbone_type = (hf_config.get("backbone_config") or {}).get("model_type")
    if backbone_type == "resnet":
        return _RESNET, True
    return _swin_rules(hf_config["model_type"] == "maskformer"), False


def _hf_extras(hf_config: dict, hf_state: dict[str, Tensor], resnet: bool) -> None:
    """Tensors transformers' files hold that have no segformers counterpart (unused or rebuilt)."""
    num_labels = len(hf_config["id2label"])
    empty = torch.ones(num_labels + 1)
    empty[-1] = float(hf_config.get("no_object_weight", 0.1))
    hf_state["criterion.empty_weight"] = empty
    if resnet:  # BatchNorm counters
        for key in [k for k in hf_state if k.endswith("normalization.running_mean")]:
            hf_state[key.replace("running_mean", "num_batches_tracked")] = torch.tensor(0, dtype=torch.int64)
        return
    dim = hf_config["backbone_config"]["embed_dim"] * 8  # the final LayerNorm of the classification model
    final = "model.layernorm" if hf_config["model_type"] == "maskformer" else "swin.layernorm"
    hf_state[f"{BACKBONE_PREFIX}{final}.weight"] = torch.ones(dim)
    hf_state[f"{BACKBONE_PREFIX}{final}.bias"] = torch.zeros(dim)


def to_hf_state_dict(state: dict[str, Tensor], hf_config: dict) -> dict[str, Tensor]:
    """transformers' file state dict for our model's ``state`` and the HF ``config.json`` ``hf_config``.

    Raises ``KeyError`` naming a weight that transformers' classes have no place for, and ``ValueError``
    if :func:`~segformers.checkpoint.hf.convert_hf_state_dict` does not give ``state`` back exactly.
    """
    family = hf_family(hf_config)
    backbone_rules, resnet = _backbone_rules(hf_config)
    backbone = _part(state, "backbone.")
    pixel = _part(state, "pixel_decoder.")
    levels = len([k for k in pixel if re.fullmatch(r"layer_\d+\.weight", k)])  # one per backbone level
    pixel_rules = _M2F_PIXEL if family == "mask2former" else _fpn_rules(levels)
    decoder_rules = _m2f_decoder_rules() if family == "mask2former" else _detr_decoder_rules()
    hf_state = {
        **_rename(backbone, backbone_rules, BACKBONE_PREFIX, "backbone"),
        **_rename(pixel, pixel_rules, PIXEL_DECODER_PREFIX, "pixel decoder"),
        **_rename(_part(state, "transformer_decoder."), decoder_rules, "", "transformer decoder"),
    }
    other = sorted(k for k in state if not k.startswith(("backbone.", "pixel_decoder.", "transformer_decoder.")))
    if other:
        raise KeyError(f"weights outside backbone / pixel_decoder / transformer_decoder have no Hugging Face "
                       f"name: {other[:5]}")
    _hf_extras(hf_config, hf_state, resnet)
    hf_state = {k: v.detach().contiguous() for k, v in hf_state.items()}
    check_round_trip(state, hf_config, hf_state)
    return hf_state


def check_round_trip(state: dict[str, Tensor], hf_config: dict, hf_state: dict[str, Tensor]) -> None:
    """Raise ``ValueError`` unless the forward converter maps ``hf_state`` back onto ``state`` exactly
    (our ``num_batches_tracked`` counters excepted: transformers' files keep their own)."""
    back = convert_hf_state_dict(hf_config, dict(hf_state))
    wanted = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    missing, extra = sorted(set(wanted) - set(back)), sorted(set(back) - set(wanted))
    differ = [k for k in wanted if k in back and not _same(wanted[k], back[k])]
    if missing or extra or differ:
        raise ValueError(f"to_hf_state_dict is not the inverse of convert_hf_state_dict here: missing {missing[:5]}, "
                         f"extra {extra[:5]}, different {differ[:5]}")


def _same(a: Tensor, b: Optional[Tensor]) -> bool:
    return b is not None and a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
