"""The official per-parameter lr / weight-decay rules and full-model gradient clipping."""
import pytest
import torch
from mmengine.registry import init_default_scope
from torch import nn

from segformers.engine import MaskFormerOptimWrapperConstructor, group_of_each_parameter
from segformers.models.layers.norm import FrozenBatchNorm2d, LayerNorm2d
from segformers.registry import OPTIM_WRAPPER_CONSTRUCTORS

LR, WD = 1e-4, 0.05


class SwinBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(8)
        self.attn = nn.Module()
        self.attn.relative_position_bias_table = nn.Parameter(torch.zeros(9, 2))
        self.attn.qkv = nn.Linear(8, 24)


class FakeMaskFormer(nn.Module):
    """The parameter names of the real model (official.md §4.3), in miniature."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.absolute_pos_embed = nn.Parameter(torch.zeros(1, 4, 8))
        self.backbone.res2 = nn.Sequential(nn.Module())
        self.backbone.res2[0].conv1 = nn.Conv2d(3, 8, 1, bias=False)
        self.backbone.res2[0].norm = nn.BatchNorm2d(8)
        self.backbone.stem_norm = FrozenBatchNorm2d(8)  # buffers only: no group
        self.backbone.layers = nn.Sequential(SwinBlock())
        self.backbone.frozen = nn.Linear(2, 2)
        self.backbone.frozen.requires_grad_(False)
        self.pixel_decoder = nn.Module()
        self.pixel_decoder.transformer = nn.Module()
        self.pixel_decoder.transformer.level_embed = nn.Parameter(torch.zeros(3, 8))
        self.pixel_decoder.adapter_1 = nn.Module()
        self.pixel_decoder.adapter_1.norm = nn.GroupNorm(2, 8)
        self.pixel_decoder.ln2d = LayerNorm2d(8)
        self.transformer_decoder = nn.Module()
        self.transformer_decoder.query_feat = nn.Embedding(4, 8)
        self.transformer_decoder.level_embed = nn.Embedding(3, 8)
        self.transformer_decoder.class_embed = nn.Linear(8, 5)
        self.transformer_decoder.decoder_norm = nn.LayerNorm(8)
        self.transformer_decoder.shared = self.transformer_decoder.class_embed  # deduplicated


def build(model, **paramwise):
    cfg = dict(optimizer=dict(type="AdamW", lr=LR, weight_decay=WD), clip_grad=dict(max_norm=0.01, norm_type=2))
    init_default_scope("segformers")
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type="MaskFormerOptimWrapperConstructor", optim_wrapper_cfg=cfg, paramwise_cfg=paramwise or None))
    return constructor(model)


def test_lr_and_weight_decay_of_named_parameters():
    model = FakeMaskFormer()
    wrapper = build(model, merge_groups=False)
    groups = {g["names"][0]: g for g in wrapper.optimizer.param_groups}
    expected = {
        "backbone.res2.0.conv1.weight": (LR * 0.1, WD),
        "backbone.res2.0.norm.weight": (LR * 0.1, 0.0),
        "backbone.res2.0.norm.bias": (LR * 0.1, 0.0),
        "backbone.absolute_pos_embed": (LR * 0.1, 0.0),
        "backbone.layers.0.attn.relative_position_bias_table": (LR * 0.1, 0.0),
        "backbone.layers.0.attn.qkv.bias": (LR * 0.1, WD),
        "backbone.layers.0.norm1.weight": (LR * 0.1, 0.0),
        "pixel_decoder.transformer.level_embed": (LR, WD),  # nn.Parameter keeps weight decay
        "pixel_decoder.adapter_1.norm.weight": (LR, 0.0),
        "pixel_decoder.ln2d.bias": (LR, 0.0),
        "transformer_decoder.query_feat.weight": (LR, 0.0),
        "transformer_decoder.level_embed.weight": (LR, 0.0),  # nn.Embedding loses it
        "transformer_decoder.class_embed.weight": (LR, WD),
        "transformer_decoder.class_embed.bias": (LR, WD),  # biases keep weight decay
        "transformer_decoder.decoder_norm.weight": (LR, 0.0),
    }
    for name, (lr, wd) in expected.items():
        assert (groups[name]["lr"], groups[name]["weight_decay"]) == (pytest.approx(lr, rel=1e-12), wd), name
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(wrapper.optimizer.param_groups) == len(trainable) == len(groups)  # one group per parameter
    assert all(len(g["params"]) == 1 for g in wrapper.optimizer.param_groups)
    assert not any("frozen" in n or "stem_norm" in n or "shared" in n for n in groups)


def test_paramwise_overrides_and_bad_keys():
    groups = group_of_each_parameter(build(FakeMaskFormer(), backbone_multiplier=1.0, weight_decay_embed=0.01)
                                     .optimizer.param_groups)
    assert groups["backbone.res2.0.conv1.weight"]["lr"] == LR
    assert groups["transformer_decoder.query_feat.weight"]["weight_decay"] == 0.01
    with pytest.raises(KeyError, match="backbone_multiplier"):
        MaskFormerOptimWrapperConstructor(dict(optimizer=dict(type="AdamW", lr=LR, weight_decay=WD)),
                                          dict(backbone_lr_mult=0.1))


def test_clip_grad_uses_the_norm_of_all_parameters_of_all_groups():
    torch.manual_seed(0)
    model, reference = FakeMaskFormer(), FakeMaskFormer()
    reference.load_state_dict(model.state_dict())
    wrapper = build(model)
    for m in (model, reference):
        loss = sum((p * torch.arange(p.numel()).view_as(p)).sum() for p in m.parameters() if p.requires_grad)
        loss.backward()
    wrapper._clip_grad()  # what OptimWrapper.step does before optimizer.step
    ref_total = torch.nn.utils.clip_grad_norm_([p for p in reference.parameters() if p.requires_grad], 0.01, 2.0)
    assert float(ref_total) > 1.0  # clipping is active
    clipped = torch.cat([p.grad.flatten() for p in model.parameters() if p.requires_grad]).norm()
    assert float(clipped) == pytest.approx(0.01, rel=1e-4)  # one norm over every group, not per group
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        if p.requires_grad:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-6, atol=0, msg=name)


def test_merged_groups_update_every_parameter_as_one_group_per_parameter_does():
    torch.manual_seed(0)
    model, reference = FakeMaskFormer(), FakeMaskFormer()
    reference.load_state_dict(model.state_dict())
    merged, per_param = build(model), build(reference, merge_groups=False)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    names = [n for g in merged.optimizer.param_groups for n in g["names"]]
    assert sorted(names) == sorted(trainable)  # every trainable parameter exactly once
    rules = {(g["lr"], g["weight_decay"]) for g in per_param.optimizer.param_groups}
    assert len(merged.optimizer.param_groups) == len(rules) < len(per_param.optimizer.param_groups)
    for _ in range(3):
        for m, w in ((model, merged), (reference, per_param)):
            loss = sum((p.sin() * torch.arange(p.numel()).view_as(p)).sum() for p in m.parameters() if p.requires_grad)
            w.update_params(loss)
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        # the clipping norm sums the parameters in group order: equal up to float rounding
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7, msg=name)
        assert torch.equal(p, start[name]) != p.requires_grad, name  # trained ones moved, frozen ones not
    group = group_of_each_parameter(merged.optimizer.param_groups)["transformer_decoder.query_feat.weight"]
    assert (group["lr"], group["weight_decay"]) == (LR, 0.0)
