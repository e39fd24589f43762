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


def test_complexity_counts_a_converted_hf_config(tmp_path):
    """tools/analysis/complexity.py on a `convert_checkpoint.py hf` output (model-only config, HF post-processor)."""
    pytest.importorskip("transformers")
    import torch

    import complexity
    from segformers.checkpoint.hf import convert_hf_folder

    hf_model = make_hf_model.build("mask2former-tiny")
    hf_model.save_pretrained(tmp_path / "hf")
    config, _ = convert_hf_folder(tmp_path / "hf", tmp_path / "conv")
    with pytest.raises(ValueError, match="pass --shape"):
        complexity.measure(str(config), flops=False)
    result = complexity.measure(str(config), shape=(64, 96))
    # every HF parameter is ours, but the backbone's BatchNorm affine ones, which are FrozenBN buffers here
    bn = sum(p.numel() for m in hf_model.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters())
    assert bn > 0 and result["params"]["total"] == sum(p.numel() for p in hf_model.parameters()) - bn
    parts = result["flops"]["by_module"]
    assert parts["backbone"] > 0 and parts["pixel_decoder"] > 0 and parts["transformer_decoder"] > 0
    assert result["flops"]["total"] >= parts["backbone"] + parts["pixel_decoder"] + parts["transformer_decoder"]
