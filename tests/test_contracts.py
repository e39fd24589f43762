"""Every entry of every research registry honours its role's contract, plugins under ``projects/`` included.

The plugins are found through their configs' ``custom_imports`` (``projects/*/configs/*.py``), so a new
plugin is covered by adding nothing but the plugin. Deliberately broken parts show that the check fails.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from torch import Tensor, nn

from segformers.models.layers.fpn import fpn_output_shape
from segformers.registry import (
    AUX_HEADS, BACKBONES, CRITERIA, LOSSES, MATCH_COSTS, MATCHERS, PIXEL_DECODERS, POSTPROCESSORS,
    TRANSFORMER_DECODERS,
)
from segformers.structures import MatchCost, MatchInputs, PixelDecoderOutput, ShapeSpec
from segformers.testing import ContractError, check_contract

ROOT = Path(__file__).resolve().parents[1]
RESEARCH_REGISTRIES = [BACKBONES, PIXEL_DECODERS, TRANSFORMER_DECODERS, AUX_HEADS, MATCHERS, MATCH_COSTS, LOSSES,
                       CRITERIA, POSTPROCESSORS]
PLUGIN_CONFIGS = sorted(ROOT.glob("projects/*/configs/*.py"))
for _path in PLUGIN_CONFIGS:  # importing a config imports its custom_imports: the plugins register themselves
    Config.fromfile(str(_path))


def _entries() -> list[tuple]:
    entries = []
    for registry in RESEARCH_REGISTRIES:
        registry.import_from_location()
        entries += [pytest.param(registry, name, id=f"{registry.name}:{name}") for name in sorted(registry.module_dict)]
    return entries


ENTRIES = _entries()


@pytest.mark.parametrize("registry,name", ENTRIES)
def test_every_registered_part_honours_its_contract(registry, name):
    part = check_contract(registry, name)
    assert type(part) is registry.get(name)


def test_the_plugins_are_among_the_checked_entries():
    modules = {registry.get(name).__module__ for registry, name in (p.values for p in ENTRIES)}
    plugins = {m.split(".")[1] for m in modules if m.startswith("projects.")}
    assert {p.parts[-3] for p in PLUGIN_CONFIGS} <= plugins  # every project with a config is covered
    assert len({p.values[0].name for p in ENTRIES}) == len(RESEARCH_REGISTRIES)


# --- deliberately broken parts ------------------------------------------------------------------------------
class SmallFPN(nn.Module):
    """A correct two-level pixel decoder (res4, res5) that the broken variants below spoil one way each."""

    def __init__(self, *, input_shape: dict, mask_dim: int = 8, conv_dim: int = 8) -> None:
        super().__init__()
        self.proj = nn.ModuleDict({k: nn.Conv2d(input_shape[k].channels, conv_dim, 1) for k in ("res4", "res5")})
        self.mask = nn.Conv2d(conv_dim, mask_dim, 1)
        self.mask_dim, self.conv_dim = mask_dim, conv_dim

    def output_shape(self) -> dict:
        return fpn_output_shape(self.mask_dim, self.conv_dim, [32, 16], 2)

    def levels(self, features: dict[str, Tensor]) -> list[Tensor]:
        return [self.proj["res5"](features["res5"]), self.proj["res4"](features["res4"])]  # low -> high resolution

    def forward(self, features: dict[str, Tensor]) -> PixelDecoderOutput:
        levels = self.levels(features)
        return PixelDecoderOutput(mask_features=self.mask(levels[-1]), multi_scale_features=levels)


class WrongChannels(SmallFPN):
    def output_shape(self) -> dict:
        return fpn_output_shape(self.mask_dim * 2, self.conv_dim, [32, 16], 2)  # declares 16, returns 8


class WrongDeclaredOrder(SmallFPN):
    def output_shape(self) -> dict:
        shapes = super().output_shape()
        return dict(shapes, multi_scale=shapes["multi_scale"][::-1])  # strides [16, 32]: high -> low


class WrongReturnedOrder(SmallFPN):
    def forward(self, features: dict[str, Tensor]) -> PixelDecoderOutput:
        out = super().forward(features)  # declares 1/32, 1/16 but returns 1/16, 1/32
        return PixelDecoderOutput(out.mask_features, out.multi_scale_features[::-1])


class TupleDecoder(nn.Module):
    """A transformer decoder that returns a tuple instead of a DecoderOutput."""

    in_feature, num_feature_levels = "res5", 1

    def __init__(self, *, num_classes: int, input_shape: dict) -> None:
        super().__init__()
        self.cls = nn.Linear(input_shape["res5"].channels, num_classes + 1)

    def forward(self, features: list[Tensor], mask_features: Tensor) -> tuple:
        x = features[0].flatten(2).transpose(1, 2)  # [B, hw, C]: one query per location
        return [self.cls(x)], [torch.einsum("bqc,bchw->bqhw", x[..., :mask_features.shape[1]], mask_features)]


class TransposedCost(MatchCost):
    def cost(self, inputs: MatchInputs) -> Tensor:
        return torch.zeros(inputs.num_targets, inputs.num_queries)  # [N, Q] instead of [Q, N]


class WrongBackbone(nn.Module):
    size_divisibility = 1

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=32, padding=1)

    def output_shape(self) -> dict:
        return {"res5": ShapeSpec(8, 32)}  # the conv gives 4 channels

    def forward(self, x: Tensor) -> dict:
        return {"res5": self.conv(x)}


def test_a_correct_small_part_passes():
    assert isinstance(check_contract(PIXEL_DECODERS, SmallFPN), SmallFPN)


@pytest.mark.parametrize("registry,part,match", [
    (PIXEL_DECODERS, WrongChannels, r"mask_features has shape \(2, 8, 4, 6\), but its spec says \(2, 16, 4, 6\)"),
    (PIXEL_DECODERS, WrongDeclaredOrder, r"ordered low -> high resolution .* got strides \[16, 32\]"),
    (PIXEL_DECODERS, WrongReturnedOrder, r"multi_scale_features\[0\] has shape \(2, 8, 4, 6\), but its spec says "
                                         r"\(2, 8, 2, 3\)"),
    (TRANSFORMER_DECODERS, TupleDecoder, "forward must return DecoderOutput, got tuple"),
    (MATCH_COSTS, TransposedCost, r"returned shape \(3, 5\), expected \[Q, N\] = \[5, 3\]"),
    (BACKBONES, WrongBackbone, r"output 'res5' has shape \(2, 4, 2, 3\), but its spec says \(2, 8, 2, 3\)"),
], ids=["channels", "declared-order", "returned-order", "output-type", "cost-shape", "backbone-channels"])
def test_a_broken_part_fails_the_check(registry, part, match):
    with pytest.raises(ContractError, match=match):
        check_contract(registry, part)
