"""A plain multi-layer perceptron (``Linear -> ReLU -> ... -> Linear``)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class MLP(nn.Module):
    """``[..., in_dim] -> [..., out_dim]`` with ``num_layers`` linear layers and ReLU between them.

    Parameters are named ``layers.{i}.weight`` / ``layers.{i}.bias`` as in the official code.
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int) -> None:
        super().__init__()
        dims_in = [in_dim] + [hidden_dim] * (num_layers - 1)
        dims_out = [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(dims_in, dims_out))

    def forward(self, x: Tensor) -> Tensor:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < last:
                x = F.relu(x)
        return x
