"""The Hugging Face converter on broken ``save_pretrained`` folders: each fault is a clear error naming
the file (missing config or weights, a config of another model type, malformed JSON, a truncated
safetensors or .bin file, weights of another model)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from segformers.checkpoint.hf import convert_hf_folder, read_hf_folder

transformers = pytest.importorskip("transformers")
from tests.checkpoint.test_hf_parity import mask2former, maskformer, small_swin  # noqa: E402


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """A tiny Mask2Former and MaskFormer, each saved with safetensors and with a pytorch_model.bin."""
    tmp = tmp_path_factory.mktemp("hf")
    torch.manual_seed(0)
    folders = {}
    for name, build in (("m2f", mask2former), ("mf", maskformer)):
        build(small_swin()).save_pretrained(tmp / name)
        binary = Path(shutil.copytree(tmp / name, tmp / f"{name}_bin"))  # the older file format
        torch.save(load_file(str(binary / "model.safetensors")), binary / "pytorch_model.bin")
        (binary / "model.safetensors").unlink()
        folders[name], folders[f"{name}_bin"] = tmp / name, binary
    return folders


def broken_copy(saved: dict[str, Path], name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved[name], tmp_path / name))


@pytest.mark.parametrize("name", ["m2f", "m2f_bin"])
def test_the_intact_folder_converts(saved, tmp_path, name):
    cfg_path, pth_path = convert_hf_folder(saved[name], tmp_path / "out")
    assert cfg_path.is_file() and len(torch.load(pth_path, weights_only=True)) > 100


def test_a_missing_config_or_weights_file_is_named(saved, tmp_path):
    folder = broken_copy(saved, "m2f", tmp_path)
    (folder / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"/m2f: no model\.safetensors or pytorch_model\.bin next to"):
        read_hf_folder(folder)
    (folder / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"/m2f/config\.json not found: pass the folder written by"):
        read_hf_folder(folder)


def test_a_config_of_another_model_type_or_no_json_is_named(saved, tmp_path):
    folder = broken_copy(saved, "m2f", tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(dict(config, architectures=["DetrForSegmentation"],
                                                        model_type="detr")))
    with pytest.raises(ValueError, match=r"m2f/config\.json: Unsupported Hugging Face model \['DetrForSegmentation'\] "
                                         r"/ detr; expected one of"):
        read_hf_folder(folder)
    (folder / "config.json").write_text('{"model_type": "mask2former",')
    with pytest.raises(ValueError, match=r"m2f/config\.json is not valid JSON"):
        read_hf_folder(folder)
    (folder / "config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"m2f/config\.json holds a JSON list"):
        read_hf_folder(folder)


@pytest.mark.parametrize("name, file", [("m2f", "model.safetensors"), ("m2f_bin", "pytorch_model.bin")])
def test_a_truncated_weight_file_is_named(saved, tmp_path, name, file):
    folder = broken_copy(saved, name, tmp_path)
    data = (folder / file).read_bytes()
    (folder / file).write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=rf"cannot read the weights .*/{name}/{file} .*truncated or corrupt"):
        read_hf_folder(folder)


def test_weights_of_another_model_are_refused_naming_the_folder(saved, tmp_path):
    folder = broken_copy(saved, "m2f", tmp_path)
    shutil.copy(saved["mf"] / "model.safetensors", folder / "model.safetensors")  # MaskFormer weights
    with pytest.raises(ValueError, match=r"the weights in .*/m2f do not fit its config\.json \(a mask2former\)"):
        convert_hf_folder(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written
