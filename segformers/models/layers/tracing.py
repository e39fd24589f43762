"""One answer to "is a graph being captured?" for the layers that keep eager-only shortcuts."""
from __future__ import annotations

import torch


def tracing() -> bool:
    """True while ``torch.jit.trace``, ``torch.compile`` or ``torch.export`` (and so the ONNX dynamo exporter)
    captures a graph: caches keyed by concrete sizes and custom ``autograd.Function`` fast paths give way to
    plain ops there, so the captured sizes stay symbolic."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()

