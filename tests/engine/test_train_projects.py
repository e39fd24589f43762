"""Project plugins work from their configs alone: ``projects/no_masked_attention`` builds in a fresh
interpreter, attends where the masked decoder may not, and trains a few iterations on the toy data."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from toy_train_probes import REPO, make_toy_data, tiny_overrides, write_tiny_config

from segformers.apis.runner import build_runner
from segformers.registry import TRANSFORMER_DECODERS
from segformers.structures import select_features
from segformers.testing import NUM_CLASSES, feature_bank, spec_bank

PROJECT = REPO / "projects" / "no_masked_attention" / "configs"
R50 = PROJECT / "mask2former_r50_plain-cross-attention.py"
TOY = PROJECT / "mask2former_r18-tiny_2xb2-570s_toy-panoptic_plain-cross-attention.py"
PLUGIN_IMPORTS = list(Config.fromfile(str(TOY)).custom_imports.imports)  # imports (registers) the plugin


def test_builds_from_its_config_alone_in_a_fresh_interpreter():
    code = ("import torch; from segformers.apis import build_model, load_config\n"
            f"with torch.device('meta'): m = build_model(load_config({str(R50)!r}))\n"
            "d = m.transformer_decoder; print(type(d).__name__, type(d).__module__, len(d.transformer_ffn_layers))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.split() == ["PlainCrossAttentionDecoder", "projects.no_masked_attention.no_masked_attention"
                                  ".decoder", "9"]


def test_it_attends_where_the_masked_decoder_may_not():
    torch.manual_seed(0)
    bank = spec_bank()
    cfg = dict(num_classes=NUM_CLASSES, input_shape=bank, hidden_dim=32, num_queries=8, nheads=2,
               dim_feedforward=32, dec_layers=3)
    masked = TRANSFORMER_DECODERS.build(dict(cfg, type="MultiScaleMaskedTransformerDecoder")).eval()
    plain = TRANSFORMER_DECODERS.build(dict(cfg, type="PlainCrossAttentionDecoder")).eval()
    plain.load_state_dict(masked.state_dict())  # the same state-dict names
    features = feature_bank(bank)
    inputs = select_features(features, "multi_scale", 3)
    with torch.no_grad():
        a, b = masked(inputs, features["mask_features"]), plain(inputs, features["mask_features"])
        allowed = masked.attention_mask(a.mask_logits[0], inputs[0].shape[-2:])
    assert plain.attention_mask(a.mask_logits[0], inputs[0].shape[-2:]) is None
    assert 0.05 < (~allowed).float().mean() < 0.95  # the masked decoder does block locations here
    torch.testing.assert_close(a.class_logits[0], b.class_logits[0])  # the query-only prediction precedes both
    assert (a.pred_logits - b.pred_logits).abs().max() > 1e-3 and len(a) == len(b) == 4


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory) -> str:
    return make_toy_data(str(tmp_path_factory.mktemp("toy")))


def test_the_toy_config_trains_a_few_iterations(toy_root, tmp_path):
    overrides = tiny_overrides(toy_root, True, 4, hooks=[dict(type="LossRecorderHook")])
    overrides["custom_imports"] = dict(imports=["toy_train_probes", *PLUGIN_IMPORTS], allow_failed_imports=False)
    cfg = Config.fromfile(write_tiny_config(str(tmp_path / "tiny.py"), str(TOY), overrides))
    cfg.merge_from_dict(dict(work_dir=str(tmp_path / "work"), experiment_name="train_projects_no_mask",
                             visualizer=dict(name="train_projects_no_mask")))
    runner = build_runner(cfg)
    decoder = runner.model.transformer_decoder
    assert type(decoder).__name__ == "PlainCrossAttentionDecoder"
    start = decoder.query_feat.weight.detach().clone()
    runner.train()
    losses = json.loads((tmp_path / "work" / "losses_rank0.json").read_text())
    assert sorted(int(k) for k in losses) == [1, 2, 3, 4] and all(math.isfinite(v) and v > 0 for v in losses.values())
    assert (decoder.query_feat.weight - start).abs().max() > 0  # the decoder was trained
