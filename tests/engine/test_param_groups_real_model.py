"""AdamW parameter groups of REAL models built from the configs follow official.md §2.4.

Per parameter: ``lr = base_lr`` (x ``backbone_multiplier`` inside the backbone); ``weight_decay = 0`` for
Swin's ``relative_position_bias_table``, every norm layer and every ``nn.Embedding``; all others (conv /
linear weights and biases, the pixel decoder's ``nn.Parameter`` level embedding) keep the weight decay.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from segformers.engine import group_of_each_parameter  # the import registers the optimizer constructor
import segformers.models  # noqa: F401
from segformers.registry import MODELS

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def param_groups(config: str) -> tuple[dict[str, dict], dict[str, torch.nn.Parameter], Config]:
    """``{parameter name: its group}``, the model's named parameters and the config."""
    init_default_scope("segformers")
    cfg = Config.fromfile(str(CONFIGS / config))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper.optimizer).__name__ == "AdamW"
    groups = group_of_each_parameter(wrapper.param_groups)
    return groups, dict(model.named_parameters()), cfg


def check(groups: dict, params: dict, name: str, lr: float, wd: float) -> None:
    group = groups[name]
    assert any(p is params[name] for p in group["params"]), name
    assert group["lr"] == pytest.approx(lr, rel=1e-12), name
    assert group["weight_decay"] == pytest.approx(wd, rel=1e-12), name


def test_mask2former_swin_t_coco_panoptic():
    groups, params, cfg = param_groups("mask2former/mask2former_swin-t_8xb2-lsj-50e_coco-panoptic.py")
    lr, wd = 1e-4, 0.05
    assert (cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.optimizer.weight_decay) == (lr, wd)
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=0.01, norm_type=2)
    expected = {
        "backbone.patch_embed.proj.weight": (lr * 0.1, wd),  # backbone conv
        "backbone.patch_embed.proj.bias": (lr * 0.1, wd),
        "backbone.layers.0.blocks.0.norm1.weight": (lr * 0.1, 0.0),  # backbone LayerNorm
        "backbone.layers.2.blocks.3.attn.relative_position_bias_table": (lr * 0.1, 0.0),
        "backbone.layers.1.blocks.0.attn.qkv.bias": (lr * 0.1, wd),
        "pixel_decoder.input_proj.0.1.weight": (lr, 0.0),  # GroupNorm
        "pixel_decoder.transformer.level_embed": (lr, wd),  # nn.Parameter: keeps weight decay
        "pixel_decoder.transformer.encoder.layers.0.norm1.weight": (lr, 0.0),
        "transformer_decoder.query_feat.weight": (lr, 0.0),  # nn.Embedding
        "transformer_decoder.query_embed.weight": (lr, 0.0),
        "transformer_decoder.level_embed.weight": (lr, 0.0),  # nn.Embedding
        "transformer_decoder.decoder_norm.weight": (lr, 0.0),
        "transformer_decoder.class_embed.bias": (lr, wd),  # head linear bias
        "transformer_decoder.class_embed.weight": (lr, wd),
    }
    for name, (want_lr, want_wd) in expected.items():
        check(groups, params, name, want_lr, want_wd)
    assert set(groups) == set(params)  # every trainable parameter, each exactly once
    tables = [n for n in params if n.endswith("relative_position_bias_table")]
    assert len(tables) == 12 and all(groups[n]["weight_decay"] == 0.0 for n in tables)


def test_maskformer_r50_ade20k():
    """MaskFormer (v1) ResNet solver: weight decay 1e-4; FrozenBN backbone norms hold no parameters."""
    groups, params, _ = param_groups("maskformer/maskformer_r50_8xb2-160k_ade20k-512x512.py")
    lr, wd = 1e-4, 1e-4
    expected = {
        "backbone.stem.conv1.weight": (lr * 0.1, wd),
        "backbone.res4.0.conv2.weight": (lr * 0.1, wd),
        "pixel_decoder.layer_4.norm.weight": (lr, 0.0),  # GroupNorm
        "transformer_decoder.query_embed.weight": (lr, 0.0),  # nn.Embedding
        "transformer_decoder.class_embed.bias": (lr, wd),
        "transformer_decoder.mask_embed.layers.2.bias": (lr, wd),
    }
    for name, (want_lr, want_wd) in expected.items():
        check(groups, params, name, want_lr, want_wd)
    assert not any("norm" in n for n in params if n.startswith("backbone."))  # FrozenBN: buffers only
    assert set(groups) == set(params)
