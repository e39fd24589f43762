"""Backbone configs from backbone weights in our names (``tools/convert_checkpoint.py backbone``).

Reading and renaming the published files (torchvision, detectron2, Swin) is :mod:`segformers.weights_io`;
here the config of a ``ResNet`` / ``SwinTransformer`` is inferred from the converted tensors' shapes.
"""
from __future__ import annotations

import math
import re

from torch import Tensor

# --- backbone configs from weights ---------------------------------------------------------------

BOTTLENECK_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
BASIC_DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


def count_indices(state: dict[str, Tensor], pattern: str) -> int:
    """Number of distinct integers captured by ``pattern`` (one group, matched at the key start)."""
    regex = re.compile(pattern)
    return len({int(m[1]) for k in state for m in [regex.match(k)] if m})


def infer_resnet_cfg(state: dict[str, Tensor]) -> dict:
    """A ``ResNet`` config matching weights in our names (norm and strides are not in the weights)."""
    deeplab = "stem.conv2.weight" in state
    blocks = [count_indices(state, rf"res{k}\.(\d+)\.") for k in range(2, 6)]
    stages = [f"res{k}" for k, n in zip(range(2, 6), blocks) if n]
    blocks = [n or 1 for n in blocks]
    bottleneck = "res2.0.conv3.weight" in state
    depths = BOTTLENECK_DEPTHS if bottleneck else BASIC_DEPTHS
    depth = next((d for d, b in depths.items() if tuple(blocks) == b), None)
    cfg = dict(type="ResNet", depth=depth or (50 if bottleneck else 18), stem_type="deeplab" if deeplab else "basic",
               stem_out_channels=state[f"stem.conv{3 if deeplab else 1}.weight"].shape[0], out_features=stages)
    if depth is None:
        cfg["num_blocks_per_stage"] = blocks
    last = "conv3" if bottleneck else "conv2"
    cfg["res2_out_channels"] = state[f"res2.0.{last}.weight"].shape[0]
    if bottleneck:
        width = state["res2.0.conv1.weight"].shape[0]
        groups = width // state["res2.0.conv2.weight"].shape[1]
        cfg.update(num_groups=groups, width_per_group=width // groups)
    if deeplab and blocks[3] == 3:
        cfg["res5_multi_grid"] = [1, 2, 4]  # the official R101c ("R-103") MaskFormer configs
    return cfg


def infer_swin_cfg(state: dict[str, Tensor]) -> dict:
    """A ``SwinTransformer`` config matching weights in our names (drop-path: the official 0.3)."""
    proj = state["patch_embed.proj.weight"]
    embed_dim, patch = proj.shape[0], proj.shape[-1]
    depths = [count_indices(state, rf"layers\.{s}\.blocks\.(\d+)\.") for s in range(4)]
    tables = [state[f"layers.{s}.blocks.0.attn.relative_position_bias_table"] for s in range(4)]
    side = math.isqrt(tables[0].shape[0])
    if side * side != tables[0].shape[0] or side % 2 == 0:
        raise ValueError(f"Swin relative_position_bias_table has {tables[0].shape[0]} rows, not (2*ws-1)^2.")
    cfg = dict(type="SwinTransformer", embed_dim=embed_dim, depths=depths, num_heads=[t.shape[1] for t in tables],
               window_size=(side + 1) // 2, patch_size=patch,
               mlp_ratio=state["layers.0.blocks.0.mlp.fc1.weight"].shape[0] / embed_dim,
               qkv_bias="layers.0.blocks.0.attn.qkv.bias" in state, patch_norm="patch_embed.norm.weight" in state,
               drop_path_rate=0.3, out_features=["res2", "res3", "res4", "res5"])
    if "absolute_pos_embed" in state:
        cfg.update(ape=True, pretrain_img_size=state["absolute_pos_embed"].shape[-1] * patch)
    return cfg


def infer_backbone_cfg(state: dict[str, Tensor]) -> dict:
    """``ResNet`` or ``SwinTransformer`` config for backbone weights in our names."""
    if "stem.conv1.weight" in state:
        return infer_resnet_cfg(state)
    if "patch_embed.proj.weight" in state:
        return infer_swin_cfg(state)
    raise ValueError(f"Cannot tell the backbone from its weights (first keys: {list(state)[:5]}).")
