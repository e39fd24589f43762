"""``forward_logits`` refuses NaN / inf pixel values and non-finite logits instead of returning them."""
from __future__ import annotations

import pytest
import torch

from segformers.apis import forward_logits
from segformers.apis.model import build_model, load_config
from tests.engine.toy_train_probes import M2F, tiny_overrides, write_tiny_config


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> torch.nn.Module:
    overrides = tiny_overrides("unused", True, 1)
    del overrides["custom_imports"]
    overrides["model"]["backbone"].update(channels_last=False, autocast_dtype=None)  # plain float32
    torch.manual_seed(0)
    return build_model(load_config(write_tiny_config(str(tmp_path_factory.mktemp("fl") / "t.py"), M2F,
                                                     overrides))).eval()


def test_finite_pixel_values_give_finite_logits(model):
    out = forward_logits(model, torch.randn(2, 3, 64, 64))
    assert out.class_queries_logits.shape == (2, 10, 9) and torch.isfinite(out.masks_queries_logits).all()


@pytest.mark.parametrize("bad, counts", [(float("nan"), "1 NaN and 0 infinite"), (float("inf"), "0 NaN and 1 infinite")])
def test_non_finite_pixel_values_are_refused(model, bad, counts):
    x = torch.randn(3, 3, 64, 64)
    x[1, 2, 5, 7] = bad
    with pytest.raises(ValueError, match=rf"pixel_values hold {counts} values \(images \[1\] of the batch\)"):
        forward_logits(model, x)


def test_non_finite_weights_are_named(model):
    broken = torch.nn.utils.parameters_to_vector(model.parameters()).clone()
    try:
        with torch.no_grad():
            model.transformer_decoder.class_embed.weight[0, 0] = float("inf")
        with pytest.raises(ValueError, match="non-finite class logits for finite pixel_values: check its weights"):
            forward_logits(model, torch.randn(1, 3, 64, 64))
    finally:
        torch.nn.utils.vector_to_parameters(broken, model.parameters())
