"""Every config under configs/ and projects/ builds a model; the base models have the official sizes."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from segformers.apis import build_model, load_config
from segformers.models import MaskFormer

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(
    [p for p in (ROOT / "configs").rglob("*.py")] + [p for p in (ROOT / "projects").glob("*/configs/*.py")]
)


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def build_meta(path: Path) -> torch.nn.Module:
    """Build without allocating weights (the meta device): full-size models cost nothing."""
    cfg = load_config(path)
    with torch.device("meta"):
        return build_model(cfg)


def num_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("path", CONFIGS, ids=_ids(CONFIGS))
def test_every_config_builds(path):
    cfg = Config.fromfile(str(path))
    if "model" not in cfg:
        pytest.skip("not a model config (dataset / schedule / runtime piece)")
    model = build_meta(path)
    assert isinstance(model, MaskFormer)
    assert num_params(model) > 0


# official.md §3.9: R50 convolutions (FrozenBN holds buffers only) 23,454,912 = torchvision resnet50
# 25,557,032 - fc 2,049,000 - BN affine 53,120.
R50 = 25_557_032 - 2_049_000 - 53_120


def test_mask2former_r50_coco_panoptic_parameter_count():
    model = build_meta(ROOT / "configs/_base_/models/mask2former_r50.py")
    assert num_params(model.backbone) == R50
    assert num_params(model.pixel_decoder) == 6_035_904
    assert num_params(model.transformer_decoder) == 14_493_062
    assert num_params(model) == R50 + 6_035_904 + 14_493_062  # 43,983,878 ~ 44.0M (paper: 44M)


def test_maskformer_r50_ade20k_parameter_count():
    model = build_meta(ROOT / "configs/_base_/models/maskformer_r50.py")
    assert num_params(model.pixel_decoder) == 7_540_480
    assert num_params(model.transformer_decoder) == 10_259_351
    assert num_params(model) == R50 + 7_540_480 + 10_259_351  # 41,254,743 ~ 41.3M (paper: 41M)


def test_plugin_component_is_built_from_config_alone():
    model = build_meta(ROOT / "projects/example_plugin/configs/mask2former_r50_lite-fpn.py")
    assert type(model.pixel_decoder).__name__ == "LiteFPNPixelDecoder"
    assert type(model.pixel_decoder).__module__.startswith("projects.example_plugin")


def test_cfg_options_override_reaches_the_model():
    cfg = Config.fromfile(str(ROOT / "configs/_base_/models/mask2former_r50.py"))
    cfg.merge_from_dict({"model.num_classes": 19, "model.transformer_decoder.num_queries": 50})
    with torch.device("meta"):
        model = build_model(cfg)
    assert model.transformer_decoder.class_embed.out_features == 20
    assert model.transformer_decoder.query_feat.num_embeddings == 50


def test_print_config_tool_applies_inheritance_and_overrides():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, str(ROOT / "tools/print_config.py"), str(ROOT / "configs/_base_/models/mask2former_swin-t.py"),
         "--cfg-options", "model.num_classes=19", "model.transformer_decoder.num_queries=50"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    assert "type='SwinTransformer'" in out or 'type="SwinTransformer"' in out  # inherited + swapped backbone
    assert "num_classes=19" in out and "num_queries=50" in out
    assert "MSDeformAttnPixelDecoder" in out  # kept from the R50 base
