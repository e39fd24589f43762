"""ImageNet backbone formats: tools/convert_checkpoint.py backbone and ``backbone.init_cfg`` loading.

Fixture files follow official.md §4.4, written from key tables in this file (small widths): a torchvision
ResNet ``.pth`` (``fc.*``, ``num_batches_tracked``), detectron2 ``R-50.pkl`` (numpy, ``stem.fc.*``), ``R-103.pkl``
(deeplab stem ``stem.conv1/2/3``) and an official Swin ``.pth`` (``{"model": ...}`` with ``attn_mask``,
``norm``, ``head``). The expected names come from the documented detectron2 rules, not from the converter.
"""
from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from segformers.checkpoint.backbones import infer_backbone_cfg
from segformers.models.backbones.pretrained import init_pretrained_backbone
from segformers.models.build import build_model
from segformers.registry import BACKBONES
from segformers.weights_io import load_state_dict_file, read_backbone_weights

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("convert_checkpoint", ROOT / "tools" / "convert_checkpoint.py")
convert_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(convert_tool)

BN = ("weight", "bias", "running_mean", "running_var")
RESNET = dict(type="ResNet", depth=50, num_blocks_per_stage=[1, 1, 2, 1], stem_out_channels=16,
              res2_out_channels=32, width_per_group=8)
R103 = dict(RESNET, stem_type="deeplab", num_blocks_per_stage=[1, 1, 1, 3], res5_multi_grid=[1, 2, 4])
SWIN = dict(type="SwinTransformer", embed_dim=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4], window_size=4)


# --- key tables ----------------------------------------------------------------------------------

def torchvision_table(blocks=(1, 1, 2, 1), stem=16, out=32, width=8) -> dict[str, tuple]:
    """torchvision ``resnet50().state_dict()`` names (BatchNorm with ``num_batches_tracked``)."""
    t: dict[str, tuple] = {}

    def conv_bn(conv: str, bn: str, cout: int, cin: int, k: int) -> None:
        t[conv + ".weight"] = (cout, cin, k, k)
        for s in BN:
            t[f"{bn}.{s}"] = (cout,)
        t[bn + ".num_batches_tracked"] = ()

    conv_bn("conv1", "bn1", stem, 3, 7)
    cin = stem
    for i, n in enumerate(blocks, start=1):
        cout, w = out * 2 ** (i - 1), width * 2 ** (i - 1)
        for j in range(n):
            p = f"layer{i}.{j}."
            conv_bn(p + "conv1", p + "bn1", w, cin if j == 0 else cout, 1)
            conv_bn(p + "conv2", p + "bn2", w, w, 3)
            conv_bn(p + "conv3", p + "bn3", cout, w, 1)
            if j == 0:
                conv_bn(p + "downsample.0", p + "downsample.1", cout, cin, 1)
        cin = cout
    t["fc.weight"], t["fc.bias"] = (10, cin), (10,)
    return t


def d2_name(tv_key: str) -> str:
    """detectron2's convert-torchvision-to-d2.py rule (official.md §4.4)."""
    key = tv_key if "layer" in tv_key else "stem." + tv_key
    for i in range(1, 5):
        key = key.replace(f"layer{i}.", f"res{i + 1}.")
    for k in (1, 2, 3):
        key = key.replace(f"bn{k}.", f"conv{k}.norm.")
    return key.replace("downsample.0.", "shortcut.").replace("downsample.1.", "shortcut.norm.")


def d2_table(deeplab: bool = False) -> dict[str, tuple]:
    """``R-50.pkl`` names (FrozenBN statistics, no num_batches_tracked, ``stem.fc.*``); ``deeplab``: R-103."""
    blocks = (1, 1, 1, 3) if deeplab else (1, 1, 2, 1)
    t = {d2_name(k): s for k, s in torchvision_table(blocks).items() if not k.endswith("num_batches_tracked")}
    if deeplab:
        for k in [k for k in t if k.startswith("stem.conv1")]:
            del t[k]
        for name, cout, cin in (("stem.conv1", 8, 3), ("stem.conv2", 8, 8), ("stem.conv3", 16, 8)):
            t[name + ".weight"] = (cout, cin, 3, 3)
            for s in BN:
                t[f"{name}.norm.{s}"] = (cout,)
    return t


def swin_table() -> dict[str, tuple]:
    """Official Swin classification names incl. ``attn_mask`` (shifted blocks), ``norm.*``, ``head.*``."""
    c, ws = SWIN["embed_dim"], SWIN["window_size"]
    t = {"patch_embed.proj.weight": (c, 3, 4, 4), "patch_embed.proj.bias": (c,),
         "patch_embed.norm.weight": (c,), "patch_embed.norm.bias": (c,)}
    for s, (depth, heads) in enumerate(zip(SWIN["depths"], SWIN["num_heads"])):
        dim = c * 2**s
        for b in range(depth):
            p = f"layers.{s}.blocks.{b}."
            for name, shape in (("norm1", (dim,)), ("norm2", (dim,)), ("attn.qkv", (3 * dim, dim)),
                                ("attn.proj", (dim, dim)), ("mlp.fc1", (4 * dim, dim)), ("mlp.fc2", (dim, 4 * dim))):
                t[p + name + ".weight"], t[p + name + ".bias"] = shape, (shape[0],)
            t[p + "attn.relative_position_bias_table"] = ((2 * ws - 1) ** 2, heads)
            t[p + "attn.relative_position_index"] = (ws * ws, ws * ws)
            if b % 2:
                t[p + "attn_mask"] = (4, ws * ws, ws * ws)
        if s < 3:
            t[f"layers.{s}.downsample.reduction.weight"] = (2 * dim, 4 * dim)
            t[f"layers.{s}.downsample.norm.weight"] = t[f"layers.{s}.downsample.norm.bias"] = (4 * dim,)
    t["norm.weight"] = t["norm.bias"] = (8 * c,)
    t["head.weight"], t["head.bias"] = (10, 8 * c), (10,)
    return t


def values(table: dict[str, tuple], seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in table.items():
        if key.endswith(("num_batches_tracked", "relative_position_index")):
            out[key] = torch.randint(0, 49, shape, generator=g)
        elif key.endswith("running_var"):
            out[key] = torch.rand(shape, generator=g) + 0.5
        else:
            out[key] = torch.randn(shape, generator=g)
    return out


SWIN_UNUSED = {"norm.weight", "norm.bias", "head.weight", "head.bias", "layers.2.blocks.1.attn_mask"}
CASES = {  # name: (writer, backbone config, expected source -> ours, source keys no backbone uses)
    "torchvision": (torchvision_table, RESNET, d2_name, {"fc.weight", "fc.bias"}),
    "d2_r50": (d2_table, RESNET, str, {"stem.fc.weight", "stem.fc.bias"}),
    "d2_r103": (lambda: d2_table(deeplab=True), R103, str, {"stem.fc.weight", "stem.fc.bias"}),
    "swin": (swin_table, SWIN, str, SWIN_UNUSED),
}


def write(path: Path, tensors: dict[str, torch.Tensor]) -> Path:
    if path.suffix == ".pkl":  # detectron2: numpy values in {"model", "__author__", "matching_heuristics"}
        obj = {"model": {k: v.numpy() for k, v in tensors.items()}, "__author__": "torchvision",
               "matching_heuristics": True}
        path.write_bytes(pickle.dumps(obj))
    else:
        torch.save(tensors if "fc.weight" in tensors else {"model": tensors}, path)  # torchvision / Swin
    return path


def source_file(tmp_path: Path, case: str) -> tuple[Path, dict[str, torch.Tensor]]:
    tensors = values(CASES[case][0]())
    return write(tmp_path / (f"{case}.pkl" if case.startswith("d2") else f"{case}.pth"), tensors), tensors


def model_cfg(backbone: dict) -> Config:
    """A small segmentor around ``backbone``."""
    return Config(dict(model=dict(
        type="MaskFormer", num_classes=3, backbone=backbone,
        pixel_decoder=dict(type="FPNPixelDecoder", conv_dim=32, mask_dim=32),
        transformer_decoder=dict(type="StandardTransformerDecoder", hidden_dim=32, num_queries=4, nheads=4,
                                 dim_feedforward=32, dec_layers=1))))


# --- tests ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", list(CASES))
def test_cli_writes_our_backbone_names(tmp_path, case, capsys):
    src, tensors = source_file(tmp_path, case)
    convert_tool.main(["backbone", str(src), str(tmp_path / "out.pth")])
    state = torch.load(tmp_path / "out.pth", weights_only=True)
    _, _, rename, unused = CASES[case]
    expected = {rename(k): k for k in tensors if k not in unused}
    assert set(state) == set(expected)
    for ours, theirs in expected.items():
        assert torch.equal(state[ours], tensors[theirs]), ours
    assert str(sorted(unused)) in capsys.readouterr().out


@pytest.mark.parametrize("case", list(CASES))
def test_init_cfg_loads_into_the_built_model(tmp_path, case):
    src, tensors = source_file(tmp_path, case)
    _, backbone_cfg, rename, unused = CASES[case]
    model = build_model(model_cfg(dict(backbone_cfg, init_cfg=dict(type="Pretrained", checkpoint=str(src)))))
    model.init_weights()  # what mmengine's Runner calls before training
    own = model.backbone.state_dict()
    loaded = {rename(k): v for k, v in tensors.items() if k not in unused and rename(k) in own}
    assert len(loaded) == len([k for k in own if not k.startswith("norm")])  # all but Swin's output norms
    for key, value in loaded.items():
        assert torch.equal(own[key], value.to(own[key].dtype)), key
    if case == "swin":  # official.md §4.4: the per-output norms keep their fresh LayerNorm init
        for i in range(4):
            assert torch.equal(own[f"norm{i}.weight"], torch.ones_like(own[f"norm{i}.weight"]))
            assert torch.equal(own[f"norm{i}.bias"], torch.zeros_like(own[f"norm{i}.bias"]))


def test_report_names_unused_and_fresh_keys(tmp_path):
    src, _ = source_file(tmp_path, "swin")
    report = init_pretrained_backbone(BACKBONES.build(SWIN), dict(type="Pretrained", checkpoint=str(src)))
    assert report.source_format == "swin"
    assert report.missing == [f"norm{i}.{p}" for i in range(4) for p in ("bias", "weight")]
    assert set(report.unused) == SWIN_UNUSED
    src, _ = source_file(tmp_path, "torchvision")
    report = init_pretrained_backbone(BACKBONES.build(RESNET), [dict(type="Pretrained", checkpoint=str(src))])
    assert {"fc.weight", "fc.bias", "res2.0.conv1.norm.num_batches_tracked"} <= set(report.unused)
    assert report.missing == []


def test_swin_detectron2_pkl_with_torch_tensors(tmp_path):
    tensors = values(swin_table())
    src = tmp_path / "swin_tiny_patch4_window7_224.pkl"  # what convert-pretrained-swin-model-to-d2.py writes
    src.write_bytes(pickle.dumps({"model": tensors, "__author__": "third_party", "matching_heuristics": True}))
    weights = read_backbone_weights(src)
    assert weights.source_format == "swin" and set(weights.unused) == SWIN_UNUSED
    key = "layers.1.blocks.0.attn.qkv.weight"
    assert torch.equal(weights.state[key], tensors[key])


def test_infer_backbone_cfg(tmp_path):
    r103 = read_backbone_weights(source_file(tmp_path, "d2_r103")[0]).state
    cfg = infer_backbone_cfg(r103)
    assert (cfg["stem_type"], cfg["stem_out_channels"], cfg["res5_multi_grid"]) == ("deeplab", 16, [1, 2, 4])
    assert cfg["num_blocks_per_stage"] == [1, 1, 1, 3] and cfg["width_per_group"] == 8
    swin = infer_backbone_cfg(read_backbone_weights(source_file(tmp_path, "swin")[0]).state)
    assert {k: swin[k] for k in SWIN} == SWIN


def test_wrong_shapes_are_named(tmp_path):
    src, _ = source_file(tmp_path, "torchvision")
    narrow = dict(RESNET, width_per_group=4)
    with pytest.raises(RuntimeError) as err:
        init_pretrained_backbone(BACKBONES.build(narrow), dict(type="Pretrained", checkpoint=str(src)))
    assert "res2.0.conv1.weight: checkpoint (8, 16, 1, 1) vs model (4, 16, 1, 1)" in str(err.value)
    assert str(src) in str(err.value)
    cfg_file = tmp_path / "narrow.py"
    model_cfg(narrow).dump(str(cfg_file))
    with pytest.raises(RuntimeError, match=r"res3\.0\.conv2\.weight: checkpoint \(16, 16, 3, 3\)"):
        convert_tool.main(["backbone", str(src), str(tmp_path / "out.pth"), "--config", str(cfg_file)])


def test_unknown_keys_are_named(tmp_path):
    tensors = values(torchvision_table())
    tensors["layer1.0.se.fc1.weight"] = torch.zeros(2)
    tensors["avgpool.scale"] = torch.zeros(1)
    src = write(tmp_path / "tv.pth", tensors)
    with pytest.raises(KeyError) as err:
        read_backbone_weights(src)
    expected = "2 keys are not part of a torchvision backbone: ['avgpool.scale', 'layer1.0.se.fc1.weight']"
    assert expected in str(err.value) and "tv.pth" in str(err.value)


def test_missing_keys_strict_and_relaxed(tmp_path):
    src, _ = source_file(tmp_path, "torchvision")
    deeper = dict(RESNET, num_blocks_per_stage=[1, 1, 3, 1])
    with pytest.raises(RuntimeError, match=r"missing from the file \(15\): \['res4\.2\.conv1\.norm\.bias'"):
        init_pretrained_backbone(BACKBONES.build(deeper), dict(type="Pretrained", checkpoint=str(src)))
    report = init_pretrained_backbone(BACKBONES.build(deeper),
                                      dict(type="Pretrained", checkpoint=str(src), strict=False))
    assert "res4.2.conv3.weight" in report.missing and "res4.1.conv3.weight" in report.loaded


def test_full_model_backbone_and_load_from_prefix(tmp_path):
    src, _ = source_file(tmp_path, "d2_r50")
    convert_tool.main(["backbone", str(src), str(tmp_path / "bb.pth"), "--add-prefix", "backbone."])
    state = load_state_dict_file(tmp_path / "bb.pth")
    model = build_model(model_cfg(RESNET))
    assert set(state) == {k for k in model.state_dict() if k.startswith("backbone.")}
    torch.save({"state_dict": {**model.state_dict(), **state}}, tmp_path / "full.pth")
    fresh = build_model(model_cfg(RESNET))
    init_pretrained_backbone(fresh.backbone, dict(type="Pretrained", checkpoint=str(tmp_path / "full.pth")))
    assert torch.equal(fresh.backbone.res4[1].conv2.weight, state["backbone.res4.1.conv2.weight"])


def test_bad_init_cfg_and_caffe2_files(tmp_path):
    with pytest.raises(ValueError, match="understand only"):
        init_pretrained_backbone(BACKBONES.build(RESNET), dict(type="Kaiming"))
    with pytest.raises(ValueError, match="unknown keys \\['revise_keys'\\]"):
        init_pretrained_backbone(BACKBONES.build(RESNET), dict(type="Pretrained", checkpoint="x", revise_keys=[]))
    src = tmp_path / "MSRA-R-50.pkl"
    src.write_bytes(pickle.dumps({"blobs": {"conv1_w": np.zeros(1), "res2_0_branch2a_w": np.zeros(1)}}))
    with pytest.raises(ValueError, match="Caffe2"):
        read_backbone_weights(src)
