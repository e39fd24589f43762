"""tools/analysis/make_hf_model.py: the quick-start issue's reference-scale model."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools/analysis"))
import make_hf_model  # noqa: E402


def test_tiny_reference_model_has_the_issue_scale():
    pytest.importorskip("transformers")
    model = make_hf_model.build("mask2former-tiny")
    cfg = model.config
    assert sum(p.numel() for p in model.parameters()) == 3_471_817
    assert (cfg.num_queries, cfg.hidden_dim, cfg.encoder_layers, cfg.train_num_points) == (30, 128, 2, 2048)
    assert model.model.transformer_module.decoder.decoder_layers == 6
    assert cfg.backbone_config.hidden_sizes == [32, 64, 128, 256] and cfg.backbone_config.depths == [1, 1, 1, 1]
    with pytest.raises(ValueError, match="unknown model"):
        make_hf_model.build("mask2former-huge")
