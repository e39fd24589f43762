"""Precision helpers shared by the model and the tools: does the device compute bf16 natively, and a float32
island that still exports."""
from __future__ import annotations

import contextlib
import functools

import torch


@functools.lru_cache(maxsize=None)
def bf16_is_native(device_type: str = "cpu") -> bool:
    """Whether ``device_type`` computes bf16 natively: CPU, oneDNN's ISA check (AVX-512 BF16 / AMX); CUDA, sm80+
    (without emulation). Cached: the hardware does not change (``bf16_is_native.cache_clear()`` in tests)."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device_type != "cpu":
        return False
    return torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def autocast_off(device_type: str) -> contextlib.AbstractContextManager:
    """Autocast disabled if it is on, else no context at all: a float32 island that still exports (an
    autocast region inside a captured graph does not)."""
    if torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()
