"""Every zoo config starts its backbone from the ImageNet file it names, and training refuses to start
without that file (unless the config says ``init_cfg=None``).

The route checked is the real one: the config's ``model.backbone.init_cfg`` (pointed at a fake file of
the backbone's keys, written here in the file's published format) -> ``MaskFormer.init_weights`` ->
the backbone's tensors. Widths are shrunk (same keys, smaller shapes) so that all 71 configs build in
seconds; the heads are shrunk too, since only the backbone is checked.
"""
from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from segformers.apis import build_model, load_config
from segformers.models.backbones.pretrained_files import (
    PRETRAINED_SOURCES, require_backbone_file, require_pretrained_backbone,
)
from segformers.registry import BACKBONES

ROOT = Path(__file__).resolve().parents[1]
ZOO = sorted(p for fam in ("mask2former", "maskformer") for p in (ROOT / "configs" / fam).glob("*.py"))
SWIN_EXTRA = ("norm.weight", "norm.bias", "head.weight", "head.bias")  # classifier keys of the ImageNet files
sys.path.insert(0, str(ROOT / "tools"))

import train  # noqa: E402  (tools/train.py)


def tiny(model_cfg: dict, checkpoint: str) -> dict:
    """The zoo model with the same backbone keys at small widths, tiny heads, ``init_cfg`` at ``checkpoint``."""
    cfg = Config(dict(model=model_cfg)).model.to_dict()
    bb = cfg["backbone"]
    if bb["type"] == "ResNet":
        bb.update(stem_out_channels=8, res2_out_channels=16, width_per_group=4)
    else:
        bb.update(embed_dim=2 * bb["num_heads"][0])  # every head keeps 2 channels
    bb["init_cfg"] = dict(bb["init_cfg"], checkpoint=checkpoint)
    pd = cfg["pixel_decoder"]
    pd.update(conv_dim=32, mask_dim=32)
    if "transformer_enc_layers" in pd:
        pd.update(transformer_enc_layers=1, transformer_nheads=2, transformer_dim_feedforward=32)
    cfg["transformer_decoder"].update(hidden_dim=32, nheads=2, dim_feedforward=32, dec_layers=1, num_queries=4)
    cfg["criterion"] = None
    return cfg


def write_fake_file(path: Path, backbone: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Random values for every ImageNet key of ``backbone``, saved as the file of that name is published:
    ``.pkl`` detectron2 (numpy arrays, ``stem.fc.*``), ``.pth`` the official Swin ``{"model": ...}``
    (``attn_mask``, final ``norm``, ``head``; no ``norm0..3``). Returns the backbone tensors written."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in backbone.state_dict().items():
        if key.endswith("num_batches_tracked") or (key.startswith("norm") and key[4:5].isdigit()):
            continue  # not in the published files
        state[key] = value.clone() if "relative_position_index" in key else torch.randn(value.shape, generator=g)
    if path.suffix == ".pkl":
        extra = {"stem.fc.weight": torch.zeros(10, 4), "stem.fc.bias": torch.zeros(10)}
        blob = {"model": {k: v.numpy() for k, v in {**state, **extra}.items()}, "__author__": "torchvision",
                "matching_heuristics": True}
        path.write_bytes(pickle.dumps(blob, protocol=2))
    else:
        extra = {k: torch.zeros(3) for k in SWIN_EXTRA}
        extra["layers.0.blocks.1.attn_mask"] = torch.zeros(4, 49, 49)
        torch.save({"model": {**state, **extra}}, path)
    return state


@pytest.mark.parametrize("path", ZOO, ids=[p.stem for p in ZOO])
def test_backbone_weights_come_from_the_configs_init_cfg(path, tmp_path):
    cfg = load_config(path)
    checkpoint = cfg.model.backbone.init_cfg.checkpoint
    name = Path(checkpoint).name
    assert checkpoint == f"pretrained/{name}" and name in PRETRAINED_SOURCES
    fake = tmp_path / name
    model_cfg = tiny(cfg.model.to_dict(), str(fake))
    reference = BACKBONES.build({k: v for k, v in model_cfg["backbone"].items() if k != "init_cfg"})
    written = write_fake_file(fake, reference, seed=len(name))
    model = build_model(Config(dict(model=model_cfg)))
    model.init_weights()
    own = model.backbone.state_dict()
    assert sorted(set(own) - set(written)) == sorted(
        k for k in own if k.endswith("num_batches_tracked") or (k[:4] == "norm" and k[4:5].isdigit()))
    for key, value in written.items():
        assert torch.equal(own[key], value), key


def test_training_refuses_to_start_without_the_backbone_file(tmp_path, monkeypatch):
    """tools/train.py stops before reading any data, naming the file, how to get it and the way out."""
    monkeypatch.chdir(tmp_path)  # no pretrained/ folder here
    config = str(ROOT / "configs/mask2former/mask2former_r101_8xb2-160k_ade20k-512x512.py")
    with pytest.raises(FileNotFoundError) as err:
        train.main([config, "--work-dir", str(tmp_path / "work")])
    text = str(err.value)
    assert "'pretrained/R-101.pkl' does not exist" in text and str(tmp_path / "pretrained/R-101.pkl") in text
    assert "resnet101-63fe2227.pth" in text and "tools/convert_checkpoint.py backbone" in text
    assert "--cfg-options model.backbone.init_cfg=None" in text
    assert not (tmp_path / "work").exists()


def test_init_cfg_none_and_configs_without_init_cfg_train_from_scratch():
    config = str(ROOT / "configs/mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py")
    args = train.parse_args([config, "--cfg-options", "model.backbone.init_cfg=None"])
    zoo = Config.fromfile(config)
    zoo.merge_from_dict(args.cfg_options)
    assert zoo.model.backbone.init_cfg is None and require_pretrained_backbone(zoo.model) is None
    for quick in sorted((ROOT / "configs/quickstart").glob("*.py")):
        cfg = load_config(quick)
        assert "init_cfg" not in cfg.model.backbone and require_pretrained_backbone(cfg.model) is None
        with torch.device("meta"):
            assert build_model(cfg).backbone_init_cfg is None


def test_the_runner_route_gives_the_same_error(tmp_path, monkeypatch):
    """``MaskFormer.init_weights`` (what mmengine's Runner calls) names the missing file the same way."""
    monkeypatch.chdir(tmp_path)
    cfg = load_config(ROOT / "configs/mask2former/mask2former_swin-t_8xb2-160k_ade20k-512x512.py")
    model = build_model(Config(dict(model=tiny(cfg.model.to_dict(), "pretrained/swin_tiny_patch4_window7_224.pth"))))
    with pytest.raises(FileNotFoundError) as err:
        model.init_weights()
    assert "'pretrained/swin_tiny_patch4_window7_224.pth' does not exist" in str(err.value)
    assert "SwinTransformer/storage/releases/download/v1.0.0/swin_tiny_patch4_window7_224.pth" in str(err.value)
    with pytest.raises(FileNotFoundError,
                       match="by converting ImageNet weights .* `python tools/convert_checkpoint.py backbone SRC my_"):
        require_backbone_file("my_backbone.pth")
