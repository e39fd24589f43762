"""Multi-head attention on ``F.scaled_dot_product_attention`` with ``nn.MultiheadAttention``'s names.

The parameters are ``in_proj_weight`` ``[3C, C]`` (rows: query, key, value), ``in_proj_bias`` ``[3C]`` and
``out_proj.{weight,bias}``, exactly as in ``nn.MultiheadAttention``, so official checkpoints load unchanged.
Unlike ``nn.MultiheadAttention`` the layout is batch-first and a boolean mask follows the SDPA convention
(``True`` = may attend); one mask is shared by all heads instead of being repeated ``heads`` times.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MultiheadAttention(nn.Module):
    """``query [B, Lq, C]``, ``key [B, Lk, C]``, ``value [B, Lk, C]`` -> ``[B, Lq, C]``.

    ``attn_mask``: optional bool tensor broadcastable to ``[B, heads, Lq, Lk]`` (e.g. ``[B, 1, Lq, Lk]``),
    ``True`` where a query may attend to a key. A row without any ``True`` gives NaN, as in PyTorch:
    callers must ensure every query can attend somewhere.
    """

    def __init__(self, embed_dim: int, num_heads: int, *, dropout: float = 0.0) -> None:
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(
                f"MultiheadAttention: embed_dim={embed_dim} is not divisible by num_heads={num_heads}; "
                "choose a hidden size that is a multiple of the number of heads."
            )
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``nn.MultiheadAttention``'s initialisation: Xavier input projection, zero biases."""
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def _heads(self, x: Tensor) -> Tensor:
        """``[B, L, C] -> [B, heads, L, C / heads]``."""
        b, length, _ = x.shape
        return x.view(b, length, self.num_heads, -1).transpose(1, 2)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, attn_mask: Optional[Tensor] = None) -> Tensor:
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        q = self._heads(F.linear(query, w_q, b_q))
        k = self._heads(F.linear(key, w_k, b_k))
        v = self._heads(F.linear(value, w_v, b_v))
        dropout_p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)
        return self.out_proj(out.transpose(1, 2).flatten(2))

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"
