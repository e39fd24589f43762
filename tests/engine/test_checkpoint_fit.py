"""A checkpoint that does not fit the config is refused by ``tools/test.py`` and by ``load_from`` in
``tools/train.py`` (keys listed) unless ``--allow-partial-checkpoint``; ``--resume`` without a checkpoint
is an error unless ``--allow-fresh-start``; stale temporary checkpoint files are removed at start."""
from __future__ import annotations

import importlib.util
import os
from itertools import count
from pathlib import Path

import pytest
import torch
from toy_train_probes import M2F, MF, REPO, make_toy_data, tiny_overrides, write_tiny_config

from segformers.apis.model import build_model, load_config
from segformers.engine.checkpoint import remove_stale_temp_files
from segformers.engine.checkpoint_fit import CheckpointMismatchError, state_dict_fit

RUN_IDS = count()


def load_tool(name: str):  # noqa: ANN201
    spec = importlib.util.spec_from_file_location(f"segformers_tools_{name}", REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def unique(*extra: str) -> list[str]:
    """``--cfg-options`` with this run's own MessageHub / Visualizer names (mmengine keys them by name)."""
    name = f"checkpoint_fit_{next(RUN_IDS)}"
    return ["--cfg-options", f"experiment_name={name}", f"visualizer.name={name}", *extra]


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    """Toy data with 2 validation images, tiny Mask2Former / MaskFormer configs that can evaluate, and a
    checkpoint of each model."""
    tmp = tmp_path_factory.mktemp("fit")
    root = make_toy_data(str(tmp / "toy"), num_train=4, num_val=2)
    evaluation = dict(test_dataloader=dict(batch_size=2, dataset=dict(data_root=root + "/")),
                      test_cfg=dict(type="TestLoop"), test_evaluator=[dict(type="SemSegMetric")])
    out = {}
    for name, base, m2f in (("m2f", M2F, True), ("mf", MF, False)):
        overrides = dict(tiny_overrides(root, m2f, 1), **evaluation)
        overrides["model"]["postprocessor"] = dict(topk_per_image=10, instance_matrix_nms_sigma=None)  # 10 queries
        out[name] = write_tiny_config(str(tmp / f"{name}.py"), base, overrides)
        torch.manual_seed(0)
        model = build_model(load_config(out[name]))
        torch.save({"state_dict": model.state_dict()}, str(tmp / f"{name}.pth"))
        out[f"{name}_ckpt"] = str(tmp / f"{name}.pth")
    out["tmp"] = tmp
    return out


def test_a_checkpoint_of_another_model_is_refused_with_the_keys(setup, tmp_path):
    with pytest.raises(CheckpointMismatchError) as err:
        load_tool("test")([setup["m2f"], setup["mf_ckpt"], "--work-dir", str(tmp_path), *unique()])
    message = str(err.value)
    assert f"Checkpoint {setup['mf_ckpt']} does not fit" in message
    assert "missing from the checkpoint (" in message and "unexpected (not in the model) (" in message
    assert "pixel_decoder." in message and "--allow-partial-checkpoint" in message


def test_a_num_classes_override_is_a_shape_mismatch(setup, tmp_path):
    with pytest.raises(CheckpointMismatchError, match=r"shape mismatches \(4\): transformer_decoder\.class_embed\.weight: "
                                                      r"checkpoint \(9, 32\) vs model \(6, 32\)"):
        load_tool("test")([setup["m2f"], setup["m2f_ckpt"], "--work-dir", str(tmp_path),
                           *unique("model.num_classes=5")])


def test_the_right_checkpoint_evaluates_and_the_override_loads_what_fits(setup, tmp_path):
    metrics = load_tool("test")([setup["m2f"], setup["m2f_ckpt"], "--work-dir", str(tmp_path / "a"), *unique()])
    assert 0.0 <= metrics["sem_seg/mIoU"] <= 100.0
    partial = load_tool("test")([setup["m2f"], setup["mf_ckpt"], "--work-dir", str(tmp_path / "b"),
                                 "--allow-partial-checkpoint", *unique()])
    assert 0.0 <= partial["sem_seg/mIoU"] <= 100.0


def test_load_from_in_training_is_checked_too(setup, tmp_path):
    with pytest.raises(CheckpointMismatchError, match="does not fit"):
        load_tool("train")([setup["m2f"], "--work-dir", str(tmp_path), *unique(f"load_from={setup['mf_ckpt']}")])
    assert not list(tmp_path.glob("*.pth"))  # refused before the first iteration


def test_resume_needs_a_checkpoint_unless_a_fresh_start_is_allowed(setup, tmp_path):
    train = load_tool("train")
    empty = tmp_path / "typo"
    with pytest.raises(FileNotFoundError, match=r"holds no checkpoint .*--allow-fresh-start"):
        train([setup["m2f"], "--work-dir", str(empty), "--resume", *unique()])
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        train([setup["m2f"], "--work-dir", str(empty), "--resume", str(empty / "iter_9.pth"), *unique()])
    with pytest.raises(SystemExit):
        train([setup["m2f"], "--allow-fresh-start", *unique()])
    empty.mkdir()
    (empty / "last_checkpoint").write_text(str(empty / "moved" / "iter_4.pth"))
    with pytest.raises(FileNotFoundError, match=r"names .*moved/iter_4\.pth, which does not exist"):
        train([setup["m2f"], "--work-dir", str(empty), "--resume", *unique()])
    fresh = tmp_path / "fresh"
    stale = fresh / ".iter_1.pth.k3x9_q2z.tmp"  # left by a run killed while writing (atomic_write's name)
    fresh.mkdir()
    stale.write_bytes(b"half a checkpoint")
    train([setup["m2f"], "--work-dir", str(fresh), "--resume", "--allow-fresh-start", *unique()])
    assert (fresh / "iter_1.pth").is_file() and not stale.exists()


def test_state_dict_fit_lists_each_kind():
    model = {"a": torch.zeros(2), "b": torch.zeros(3, 4), "c": torch.zeros(1)}
    fit = state_dict_fit(model, {"a": torch.zeros(2), "b": torch.zeros(4, 4), "d": torch.zeros(1)})
    assert (fit.missing, fit.unexpected, fit.mismatched) == (["c"], ["d"], ["b: checkpoint (4, 4) vs model (3, 4)"])
    assert state_dict_fit(model, model).fits
    many = state_dict_fit({f"k{i}": torch.zeros(1) for i in range(25)}, {})
    assert many.report(limit=3) == "  missing from the checkpoint (25): k0, k1, k2 ... and 22 more"


def test_only_the_temporary_files_of_atomic_write_are_removed(tmp_path):
    keep = ["iter_2.pth", "last_checkpoint", ".hidden", ".iter_2.pth.tmp", "notes.tmp"]
    stale = [".iter_4.pth.ab_cd123.tmp", ".last_checkpoint.zz9yy8xx.tmp"]
    for name in keep + stale:
        (tmp_path / name).write_text("x")
    assert remove_stale_temp_files(str(tmp_path)) == [str(tmp_path / n) for n in sorted(stale)]
    assert sorted(os.listdir(tmp_path)) == sorted(keep)
    assert remove_stale_temp_files(str(tmp_path / "absent")) == []
