"""One answer to "is a graph being captured?" for the layers that keep eager-only shortcuts."""
from __future__ import annotations

import contextlib

import torch


def tracing() -> bool:
    """True while ``torch.jit.trace``, ``torch.compile`` or ``torch.export`` (and so the ONNX dynamo exporter)
    captures a graph: caches keyed by concrete sizes and custom ``autograd.Function`` fast paths give way to
    plain ops there, so the captured sizes stay symbolic."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()


def autocast_off(device_type: str) -> contextlib.AbstractContextManager:
    """Autocast disabled if it is on, else no context at all: a float32 island that still exports (an
    autocast region inside a captured graph does not)."""
    if torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()
