"""init_model applies the dataset metadata once (config first, else the checkpoint's meta); inference()
runs a Predictor (model, pipeline, meta) and needs nothing attached to the model."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from segformers.apis import Predictor, build_model, inference, init_model, predictor_of
from segformers.apis import test_pipeline as config_pipeline

ROOT = Path(__file__).resolve().parents[2]
K = 5
TINY = {
    "model.num_classes": K, "model.backbone.depth": 18, "model.backbone.norm": "BN",
    "model.backbone.stem_out_channels": 16, "model.backbone.res2_out_channels": 16,
    "model.pixel_decoder.conv_dim": 32, "model.pixel_decoder.mask_dim": 32,
    "model.transformer_decoder.hidden_dim": 32, "model.transformer_decoder.num_queries": 6,
    "model.transformer_decoder.nheads": 2, "model.transformer_decoder.dim_feedforward": 64,
    "model.transformer_decoder.dec_layers": 2, "model.criterion": None,
    "model.postprocessor.panoptic_on": True, "model.postprocessor.object_mask_threshold": 0.0,
}
META = dict(classes=[f"c{i}" for i in range(K)], is_thing=[False, False, True, True, True])


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A tiny MaskFormer config without a dataset, the same with ``metainfo``, and a checkpoint
    holding ``meta.dataset_meta`` (as a training run writes it)."""
    tmp = tmp_path_factory.mktemp("predictor")
    cfg = Config.fromfile(str(ROOT / "configs/_base_/models/maskformer_r50.py"))
    cfg.merge_from_dict(TINY)
    cfg.dump(str(tmp / "plain.py"))
    cfg.metainfo = dict(classes=META["classes"], is_thing=[True, False, False, False, True])
    cfg.dump(str(tmp / "with_meta.py"))
    torch.manual_seed(0)
    model = build_model(tmp / "plain.py")
    torch.save({"meta": {"dataset_meta": META}, "state_dict": model.state_dict()}, tmp / "run.pth")
    return tmp / "plain.py", tmp / "with_meta.py", tmp / "run.pth"


def test_init_model_applies_the_checkpoint_meta_unless_the_config_names_classes(files):
    plain, with_meta, ckpt = files
    model = init_model(plain, ckpt)
    assert model.postprocessor.thing_ids == [2, 3, 4] and not hasattr(model, "cfg")
    assert predictor_of(model).meta == META
    assert init_model(with_meta, ckpt).postprocessor.thing_ids == [0, 4]  # the config's metainfo first
    assert init_model(plain).postprocessor.thing_ids is None  # nothing names the classes


def test_init_model_refuses_a_checkpoint_of_another_number_of_classes(files, tmp_path):
    plain, _, ckpt = files
    state = torch.load(ckpt, weights_only=True)
    state["meta"]["dataset_meta"] = dict(classes=["a", "b"], is_thing=[True, True])
    torch.save(state, tmp_path / "two.pth")
    with pytest.raises(ValueError, match=r"num_classes=5, but its dataset has 2 classes.*model\.num_classes=2"):
        init_model(plain, tmp_path / "two.pth")


def test_inference_runs_a_predictor_or_a_model_of_init_model_alike(files):
    plain, _, ckpt = files
    model = init_model(plain, ckpt)
    image = np.random.default_rng(0).integers(0, 256, size=(40, 56, 3), dtype=np.uint8)
    by_model = inference(model, image)
    explicit = Predictor(model, config_pipeline(Config.fromfile(str(plain))), META)
    by_predictor = explicit(image)
    assert by_model["sem_seg"].shape == (40, 56) and by_model["panoptic_seg"].shape == (40, 56)
    assert torch.equal(by_model["sem_seg"], by_predictor["sem_seg"])
    assert torch.equal(by_model["panoptic_seg"], by_predictor["panoptic_seg"])
    assert by_model["segments_info"] == by_predictor["segments_info"]
    assert [len(r["segments_info"]) > 0 for r in inference(explicit, [image, image])] == [True, True]


def test_inference_of_a_model_not_made_by_init_model_names_the_fix(files):
    model = build_model(files[0]).eval()
    with pytest.raises(ValueError, match=r"not made by segformers.apis.init_model.*Predictor\(model"):
        inference(model, np.zeros((8, 8, 3), np.uint8))
    fresh = Predictor(model, config_pipeline(Config.fromfile(str(files[0]))), META)
    assert model.postprocessor.thing_ids == [2, 3, 4]  # a Predictor gives its meta to the model
    assert fresh(np.zeros((64, 48, 3), np.uint8))["sem_seg"].shape == (64, 48)
