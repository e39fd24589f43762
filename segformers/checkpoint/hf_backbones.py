"""Hugging Face backbone weights -> ``segformers`` backbones (``ResNet`` / ``SwinTransformer``).

Pure functions on plain dicts: ``transformers`` is not needed. Handles the backbones inside
``Mask2FormerForUniversalSegmentation`` / ``MaskFormerForInstanceSegmentation`` checkpoints:

* ``model_type="resnet"`` (``ResNetBackbone``): ``embedder.embedder.{convolution,normalization}`` ->
  ``stem.conv1{,.norm}``; ``encoder.stages.{s}.layers.{l}.layer.{i}`` -> ``res{s+2}.{l}.conv{i+1}``;
  ``...shortcut`` -> ``res{s+2}.{l}.shortcut``; ``num_batches_tracked`` is dropped.
* ``model_type="swin"`` (``SwinBackbone``, Mask2Former) and ``"maskformer-swin"`` (MaskFormer): separate
  ``query/key/value`` are packed into ``attn.qkv``; ``hidden_states_norms.stage{i}`` (Swin) or
  ``hidden_states_norms.{i}`` (MaskFormer-Swin) become ``norm{i-1}`` / ``norm{i}``; the unused final
  ``layernorm`` and any stored ``relative_position_index`` are consumed and dropped (the index is
  rebuilt from ``window_size``).

Both the names written by ``save_pretrained`` (``encoder.layers...attention.self.query``) and the
in-memory names of transformers 5.x (``swin.encoder.layers...attention.q_proj``) are understood.
"""
from __future__ import annotations

import re
from typing import Callable, Optional

import torch
from torch import Tensor

from segformers.models.backbones.swin import relative_position_index

RESNET_TYPES = ("resnet",)
SWIN_TYPES = ("swin", "maskformer-swin")
RESNET_DEPTHS = {
    "basic": {(2, 2, 2, 2): 18, (3, 4, 6, 3): 34},
    "bottleneck": {(3, 4, 6, 3): 50, (3, 4, 23, 3): 101, (3, 8, 36, 3): 152},
}


def backbone_config(hf_config: dict) -> dict:
    """The backbone part of an HF ``config.json`` (``backbone_config``, or the dict itself)."""
    cfg = hf_config.get("backbone_config") or hf_config
    model_type = cfg.get("model_type")
    if model_type not in RESNET_TYPES + SWIN_TYPES:
        timm = model_type == "timm_backbone" or hf_config.get("use_timm_backbone")
        hint = " (a timm backbone)" if timm else ""
        raise ValueError(
            f"Unsupported HF backbone model_type {model_type!r}{hint}; convert_hf_backbone handles "
            f"{list(RESNET_TYPES + SWIN_TYPES)} given as 'backbone_config' of the HF config.json."
        )
    return cfg


def _out_features(cfg: dict) -> list[str]:
    names = cfg.get("out_features") or ["stage1", "stage2", "stage3", "stage4"]
    bad = [n for n in names if not re.fullmatch(r"stage[1-4]", n)]
    if bad:
        raise ValueError(f"HF out_features {bad} have no segformers equivalent (only stage1..stage4 -> "
                         "res2..res5; 'stem' is not an output of our backbones).")
    return [f"res{int(n[5:]) + 1}" for n in names]


def _resnet_cfg(cfg: dict) -> dict:
    sizes, depths = list(cfg["hidden_sizes"]), tuple(cfg["depths"])
    layer_type = cfg.get("layer_type", "bottleneck")
    if len(sizes) != 4 or len(depths) != 4:
        raise ValueError(f"HF ResNet with {len(depths)} stages: segformers' ResNet has exactly 4 "
                         "(res2..res5).")
    if any(sizes[i] != sizes[0] * 2**i for i in range(4)):
        raise ValueError(f"HF ResNet hidden_sizes {sizes} do not double per stage, which segformers' "
                         "ResNet (detectron2 layout) requires.")
    if cfg.get("downsample_in_first_stage", False):
        raise ValueError("HF ResNet downsample_in_first_stage=True (stride-2 res2) is not supported.")
    if cfg.get("hidden_act", "relu") != "relu" or cfg.get("num_channels", 3) != 3:
        raise ValueError("HF ResNet needs hidden_act='relu' and num_channels=3 to map onto segformers' "
                         "ResNet.")
    if layer_type not in RESNET_DEPTHS:
        raise ValueError(f"HF ResNet layer_type {layer_type!r} is not 'basic' or 'bottleneck'.")
    if layer_type == "bottleneck" and sizes[0] % 4:
        raise ValueError(f"HF ResNet bottleneck hidden_sizes[0]={sizes[0]} is not divisible by 4.")
    out = dict(type="ResNet", norm="FrozenBN", freeze_at=0, stem_type="basic",
               stem_out_channels=cfg.get("embedding_size", 64), res2_out_channels=sizes[0],
               width_per_group=sizes[0] // 4 if layer_type == "bottleneck" else 64, num_groups=1,
               stride_in_1x1=bool(cfg.get("downsample_in_bottleneck", False)), res5_dilation=1,
               out_features=_out_features(cfg))
    depth = RESNET_DEPTHS[layer_type].get(depths)
    if depth is None:  # non-standard block counts: keep the block type, give the counts explicitly
        depth = 18 if layer_type == "basic" else 50
        out["num_blocks_per_stage"] = list(depths)
    out["depth"] = depth
    return out


def _swin_cfg(cfg: dict) -> dict:
    checks = {
        "use_absolute_embeddings": (False, "absolute position embeddings"),
        "hidden_act": ("gelu", "activation"),
        "layer_norm_eps": (1e-5, "LayerNorm eps"),
        "num_channels": (3, "input channels"),
        "hidden_dropout_prob": (0.0, "hidden dropout"),
        "attention_probs_dropout_prob": (0.0, "attention dropout"),
    }
    for key, (expected, what) in checks.items():
        if cfg.get(key, expected) != expected:
            raise ValueError(f"HF Swin {key}={cfg[key]!r} ({what}) is not supported; segformers' "
                             f"SwinTransformer matches the official code with {key}={expected!r}.")
    patch, image = cfg.get("patch_size", 4), cfg.get("image_size", 224)
    if isinstance(patch, (list, tuple)):
        if patch[0] != patch[1]:
            raise ValueError(f"HF Swin patch_size {patch} is not square.")
        patch = patch[0]
    if isinstance(image, (list, tuple)):
        image = image[0]
    if len(cfg["depths"]) != 4:
        raise ValueError(f"HF Swin with {len(cfg['depths'])} stages: segformers' Swin has exactly 4.")
    return dict(type="SwinTransformer", embed_dim=cfg["embed_dim"], depths=list(cfg["depths"]),
                num_heads=list(cfg["num_heads"]), window_size=cfg["window_size"], patch_size=patch,
                mlp_ratio=float(cfg.get("mlp_ratio", 4.0)), qkv_bias=bool(cfg.get("qkv_bias", True)),
                drop_path_rate=float(cfg.get("drop_path_rate", 0.1)), ape=False, pretrain_img_size=image,
                patch_norm=True, frozen_stages=-1, out_features=_out_features(cfg))


def hf_backbone_cfg(hf_config: dict) -> dict:
    """Our registry config (``dict(type="ResNet", ...)`` / ``dict(type="SwinTransformer", ...)``) equal
    to the backbone of an HF ``config.json`` dict; raises ``ValueError`` for options we cannot express."""
    cfg = backbone_config(hf_config)
    return _resnet_cfg(cfg) if cfg["model_type"] in RESNET_TYPES else _swin_cfg(cfg)


# --- key renaming ------------------------------------------------------------------------------
_RESNET_RULES: list[tuple[str, Callable[[re.Match], Optional[str]]]] = [
    (r"embedder\.embedder\.convolution\.weight", lambda m: "stem.conv1.weight"),
    (r"embedder\.embedder\.normalization\.(\w+)", lambda m: _bn("stem.conv1.norm", m[1])),
    (r"encoder\.stages\.(\d+)\.layers\.(\d+)\.shortcut\.convolution\.weight",
     lambda m: f"res{int(m[1]) + 2}.{m[2]}.shortcut.weight"),
    (r"encoder\.stages\.(\d+)\.layers\.(\d+)\.shortcut\.normalization\.(\w+)",
     lambda m: _bn(f"res{int(m[1]) + 2}.{m[2]}.shortcut.norm", m[3])),
    (r"encoder\.stages\.(\d+)\.layers\.(\d+)\.layer\.(\d+)\.convolution\.weight",
     lambda m: f"res{int(m[1]) + 2}.{m[2]}.conv{int(m[3]) + 1}.weight"),
    (r"encoder\.stages\.(\d+)\.layers\.(\d+)\.layer\.(\d+)\.normalization\.(\w+)",
     lambda m: _bn(f"res{int(m[1]) + 2}.{m[2]}.conv{int(m[3]) + 1}.norm", m[4])),
]

_BLOCK = r"encoder\.layers\.(\d+)\.blocks\.(\d+)\."
_SWIN_BLOCK_RULES = {  # HF block-relative name (both layouts) -> ours
    "layernorm_before": "norm1", "layernorm_after": "norm2",
    "attention.output.dense": "attn.proj", "attention.o_proj": "attn.proj",
    "intermediate.dense": "mlp.fc1", "mlp.fc1": "mlp.fc1",
    "output.dense": "mlp.fc2", "mlp.fc2": "mlp.fc2",
}
_QKV = {"query": 0, "key": 1, "value": 2, "q_proj": 0, "k_proj": 1, "v_proj": 2}


def _bn(base: str, leaf: str) -> Optional[str]:
    return None if leaf == "num_batches_tracked" else f"{base}.{leaf}"


def _swin_name(key: str) -> tuple[Optional[str], Optional[tuple[str, int]]]:
    """``(our name or None to drop, (packed qkv name, slot) or None)``; ``KeyError`` if unknown."""
    key = re.sub(r"^(swin|model)\.", "", key)
    if m := re.fullmatch(r"embeddings\.patch_embeddings\.projection\.(weight|bias)", key):
        return f"patch_embed.proj.{m[1]}", None
    if m := re.fullmatch(r"embeddings\.norm\.(weight|bias)", key):
        return f"patch_embed.norm.{m[1]}", None
    if m := re.fullmatch(r"hidden_states_norms\.(?:stage(\d)|(\d))\.(weight|bias)", key):
        return (f"norm{int(m[1]) - 1}" if m[1] else f"norm{m[2]}") + f".{m[3]}", None
    if re.fullmatch(r"layernorm\.(weight|bias)", key):
        return None, None  # final norm of the classification model, unused by the backbone
    if m := re.fullmatch(r"encoder\.layers\.(\d+)\.downsample\.(reduction|norm)\.(weight|bias)", key):
        return f"layers.{m[1]}.downsample.{m[2]}.{m[3]}", None
    m = re.match(_BLOCK, key)
    if m is None:
        raise KeyError(key)
    ours, rest = f"layers.{m[1]}.blocks.{m[2]}.", key[m.end():]
    if re.fullmatch(r"attention\.(self|relative_position_bias)\.relative_position_index", rest):
        return None, None
    if re.fullmatch(r"attention\.(self|relative_position_bias)\.relative_position_bias_table", rest):
        return ours + "attn.relative_position_bias_table", None
    if q := re.fullmatch(r"attention\.(?:self\.)?(query|key|value|[qkv]_proj)\.(weight|bias)", rest):
        return None, (ours + "attn.qkv." + q[2], _QKV[q[1]])
    module, _, leaf = rest.rpartition(".")
    if module in _SWIN_BLOCK_RULES and leaf in ("weight", "bias"):
        return ours + _SWIN_BLOCK_RULES[module] + "." + leaf, None
    raise KeyError(key)


def _resnet_name(key: str) -> Optional[str]:
    key = re.sub(r"^resnet\.", "", key)
    for pattern, rename in _RESNET_RULES:
        if m := re.fullmatch(pattern, key):
            return rename(m)
    raise KeyError(key)


def _plan(local: list[str], is_swin: bool) -> tuple[dict[str, Optional[str]], dict[str, list]]:
    """Map every local key to our name (None = drop); q/k/v parts are grouped by packed name."""
    plan: dict[str, Optional[str]] = {}
    qkv: dict[str, list] = {}
    unknown = []
    for key in local:
        try:
            if is_swin:
                name, part = _swin_name(key)
                if part is not None:
                    qkv.setdefault(part[0], [None, None, None])[part[1]] = key
            else:
                name = _resnet_name(key)
            plan[key] = name
        except KeyError:
            unknown.append(key)
    if unknown:
        raise ValueError(f"convert_hf_backbone: {len(unknown)} keys are not understood, e.g. {unknown[:5]}; "
                         "check the prefix and the backbone type.")
    incomplete = [k for k, parts in qkv.items() if None in parts]
    if incomplete:
        raise ValueError(f"convert_hf_backbone: query/key/value incomplete for {incomplete[:3]}.")
    return plan, qkv


def convert_hf_backbone(hf_state: dict[str, Tensor], hf_config: dict, prefix: str) -> dict[str, Tensor]:
    """Convert (and pop from ``hf_state``) the HF backbone stored under ``prefix`` (e.g.
    ``"model.pixel_level_module.encoder"``) into a state dict for the backbone built from
    :func:`hf_backbone_cfg`; returned keys are relative to our backbone module."""
    cfg = backbone_config(hf_config)
    is_swin = cfg["model_type"] in SWIN_TYPES
    lead = prefix.rstrip(".") + "." if prefix else ""
    local = [k[len(lead):] for k in hf_state if k.startswith(lead)]
    if not local:
        raise KeyError(f"convert_hf_backbone: no key starts with {lead!r}; first keys: {list(hf_state)[:5]}.")
    plan, qkv = _plan(local, is_swin)
    values = {key: hf_state.pop(lead + key) for key in local}
    out = {name: values[key] for key, name in plan.items() if name is not None}
    for name, parts in qkv.items():
        out[name] = torch.cat([values[p] for p in parts], dim=0)
    if is_swin:
        _complete_swin(out, cfg)
    return out


def _complete_swin(out: dict[str, Tensor], cfg: dict) -> None:
    """Add the rebuilt ``relative_position_index`` of every block and identity ``norm{i}`` for stages
    HF did not keep a norm for (official checkpoints always hold ``norm0..3``)."""
    index = relative_position_index(cfg["window_size"])
    for name in [n for n in out if n.endswith("attn.relative_position_bias_table")]:
        out[name.replace("relative_position_bias_table", "relative_position_index")] = index.clone()
    dims = [cfg["embed_dim"] * 2**i for i in range(4)]
    for i, dim in enumerate(dims):
        if f"norm{i}.weight" not in out:
            out[f"norm{i}.weight"] = torch.ones(dim)
            out[f"norm{i}.bias"] = torch.zeros(dim)
