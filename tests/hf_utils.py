"""Helpers for parity tests against Hugging Face ``transformers`` (a test-only dependency)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")


def save_hf_model(model: "torch.nn.Module", out_dir: str | Path) -> Path:
    """``save_pretrained`` into ``out_dir`` (safetensors) and return the folder."""
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    return out_dir


def hf_saved_state_dict(model: "torch.nn.Module") -> tuple[dict[str, torch.Tensor], dict]:
    """The state dict *as written in the saved file* (names may differ from ``model.state_dict()``)
    and the saved ``config.json`` as a plain dict."""
    from safetensors.torch import load_file

    with tempfile.TemporaryDirectory() as tmp:
        folder = save_hf_model(model, tmp)
        files = sorted(folder.glob("*.safetensors"))
        state: dict[str, torch.Tensor] = {}
        for f in files:
            state.update(load_file(str(f)))
        config = json.loads((folder / "config.json").read_text())
    return state, config


def randomize_(model: "torch.nn.Module", seed: int = 0) -> "torch.nn.Module":
    """Fill every parameter and floating buffer with non-trivial values (norm stats stay valid),
    so parity tests do not pass by accident on zero/one initialisations."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1 + (1.0 if name.endswith("norm.weight") else 0.0))
        for name, b in model.named_buffers():
            if not b.is_floating_point():
                continue
            if name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
            elif name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
    return model
