"""Multi-scale deformable attention (Deformable DETR) in pure PyTorch, for CPU and GPU.

:func:`ms_deform_attn` is the core op (the official CUDA kernel's semantics: bilinear sampling at
``loc * size - 0.5``, zero outside the map, i.e. ``grid_sample(align_corners=False, padding_mode="zeros")``
on ``2 * loc - 1``). Two interchangeable implementations:

* ``"gather"`` (:mod:`.deform_gather`) — pads every level with zeros, turns each (point, corner) into a
  row index of the value table and its bilinear weight times the attention weight, and reduces them with
  one ``F.embedding_bag`` call; one autograd node with a closed-form backward. On CPU (one thread's CPU
  time, a 512x512 image: Lq = 5376, 8 heads, 3 levels, 4 points) the forward takes 16 ms vs 199 ms for
  transformers' ``grid_sample`` version; forward + backward 67 ms vs 560 ms (bf16: 80 ms;
  ``tools/analysis/bench_ms_deform_attn.py --clock cpu``). The default on CPU, and on GPU under
  ``torch.use_deterministic_algorithms(True)`` (its backward, a stable sort and sums, is
  deterministic; ``grid_sample``'s CUDA backward is not and raises there).
* ``"grid_sample"`` — one ``grid_sample`` per level, accumulated level by level (no stacking of the
  levels' samples); the default elsewhere (CUDA has a well-tuned ``grid_sample`` and backward), and
  the capture path: under ``torch.export`` (and the ONNX exporter), ``torch.compile`` or ``torch.jit.trace``
  (:func:`~segformers.models.layers.tracing.tracing`) it is chosen
  on every device, as its plain ops trace with dynamic sizes (ONNX ``GridSample``).

:class:`MSDeformAttn` is the attention module with the official parameter names and initialisation.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .precision import autocast_off
from .tracing import tracing
from .deform_gather import ms_deform_attn_gather

SpatialShapes = Union[Sequence[Sequence[int]], Tensor]
IMPLEMENTATIONS = ("gather", "grid_sample")


def _shape_list(spatial_shapes: SpatialShapes) -> list[tuple[int, int]]:
    """``[(H_l, W_l), ...]`` as Python ints (a tensor costs one host sync; prefer passing a list)."""
    if isinstance(spatial_shapes, Tensor):
        spatial_shapes = spatial_shapes.tolist()
    return [(int(h), int(w)) for h, w in spatial_shapes]


def _check_inputs(value: Tensor, shapes: list[tuple[int, int]], loc: Tensor, attn: Tensor) -> None:
    if value.dim() != 4:
        raise ValueError(f"ms_deform_attn: value must be [N, S, M, D], got shape {tuple(value.shape)}.")
    if loc.dim() != 6 or loc.shape[-1] != 2:
        raise ValueError(
            "ms_deform_attn: sampling_locations must be [N, Lq, M, L, P, 2] (x, y in [0, 1]), "
            f"got shape {tuple(loc.shape)}."
        )
    n, s, m, _ = value.shape
    _, lq, _, num_levels, num_points, _ = loc.shape
    if sum(h * w for h, w in shapes) != s or len(shapes) != num_levels:
        raise ValueError(
            f"ms_deform_attn: spatial_shapes {shapes} must list {num_levels} levels whose H*W sum to "
            f"value.shape[1] = {s}."
        )
    if loc.shape[0] != n or loc.shape[2] != m:
        raise ValueError(
            f"ms_deform_attn: sampling_locations {tuple(loc.shape)} disagree with value "
            f"{tuple(value.shape)} on batch size or number of heads."
        )
    if tuple(attn.shape) != (n, lq, m, num_levels, num_points):
        raise ValueError(
            "ms_deform_attn: attention_weights must be [N, Lq, M, L, P] = "
            f"{(n, lq, m, num_levels, num_points)}, got {tuple(attn.shape)}."
        )


def ms_deform_attn(
    value: Tensor,
    spatial_shapes: SpatialShapes,
    sampling_locations: Tensor,
    attention_weights: Tensor,
    *,
    impl: Optional[str] = None,
) -> Tensor:
    """Multi-scale deformable attention core.

    Args:
        value: ``[N, S, M, D]`` (levels concatenated along ``S = sum(H_l * W_l)``, row-major per level).
        spatial_shapes: ``[(H_l, W_l)] * L`` (a list avoids a device sync; an ``[L, 2]`` tensor works).
        sampling_locations: ``[N, Lq, M, L, P, 2]`` normalized ``(x, y)``; ``(0, 0)`` is the top-left corner.
        attention_weights: ``[N, Lq, M, L, P]``.
        impl: ``"gather"``, ``"grid_sample"`` or ``None`` (``"grid_sample"`` while a graph is captured,
            else ``"gather"`` on CPU or in deterministic mode, else ``"grid_sample"``).

    Returns:
        ``[N, Lq, M * D]`` in ``value.dtype``.
    """
    shapes = _shape_list(spatial_shapes)
    _check_inputs(value, shapes, sampling_locations, attention_weights)
    if impl is None and tracing():
        impl = "grid_sample"  # the gather path's autograd.Function cannot be exported
    if impl is None:
        use_gather = value.device.type == "cpu" or torch.are_deterministic_algorithms_enabled()
        impl = "gather" if use_gather else "grid_sample"
    if impl == "gather":
        return ms_deform_attn_gather(value, shapes, sampling_locations, attention_weights)
    if impl == "grid_sample":
        return _ms_deform_attn_grid_sample(value, shapes, sampling_locations, attention_weights)
    raise ValueError(f"ms_deform_attn: unknown impl '{impl}'; choose one of {IMPLEMENTATIONS} or None.")


def _ms_deform_attn_grid_sample(
    value: Tensor, shapes: list[tuple[int, int]], loc: Tensor, attn: Tensor
) -> Tensor:
    """One ``grid_sample`` per level, weighted and summed level by level: ``-> [N, Lq, M * D]``."""
    n, _, m, d = value.shape
    _, lq, _, num_levels, num_points, _ = loc.shape
    out_dtype = value.dtype
    if value.device.type == "cpu" and value.dtype in (torch.float16, torch.bfloat16):
        value = value.float()  # CPU grid_sample is ~3x slower in reduced precision
    grids = (2 * loc.to(value.dtype) - 1).transpose(1, 2).flatten(0, 1)  # [N*M, Lq, L, P, 2]
    weights = attn.to(value.dtype).transpose(1, 2).reshape(n * m, 1, lq, num_levels, num_points)
    levels = value.split([h * w for h, w in shapes], dim=1)
    out = value.new_zeros(())
    for lvl, (h, w) in enumerate(shapes):
        v = levels[lvl].permute(0, 2, 3, 1).reshape(n * m, d, h, w)
        sampled = F.grid_sample(
            v, grids[:, :, lvl], mode="bilinear", padding_mode="zeros", align_corners=False
        )  # [N*M, D, Lq, P]
        out = out + (sampled * weights[..., lvl, :]).sum(-1)
    return out.view(n, m * d, lq).transpose(1, 2).contiguous().to(out_dtype)


class MSDeformAttn(nn.Module):
    """Multi-scale deformable attention module: ``query [N, Lq, C] -> [N, Lq, C]``.

    Parameter names (``sampling_offsets``, ``attention_weights``, ``value_proj``, ``output_proj``) and
    initialisation follow the official ``MSDeformAttn``. Under autocast, ``value_proj``, ``attention_weights``
    and ``output_proj`` run in the low precision; the sampling offsets and locations, the attention softmax
    and the sampling core run in float32 with autocast off (the official op's ``cast_inputs=float32``).
    """

    def __init__(
        self, *, embed_dim: int = 256, num_levels: int = 4, num_heads: int = 8, num_points: int = 4
    ) -> None:
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(
                f"MSDeformAttn: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})."
            )
        self.embed_dim = embed_dim
        self.num_levels = num_levels
        self.num_heads = num_heads
        self.num_points = num_points
        self.sampling_offsets = nn.Linear(embed_dim, num_heads * num_levels * num_points * 2)
        self.attention_weights = nn.Linear(embed_dim, num_heads * num_levels * num_points)
        self.value_proj = nn.Linear(embed_dim, embed_dim)
        self.output_proj = nn.Linear(embed_dim, embed_dim)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Zero offsets weight; offset bias = head direction on the unit square times (point + 1)."""
        nn.init.zeros_(self.sampling_offsets.weight)
        theta = torch.arange(self.num_heads, dtype=torch.float32) * (2.0 * math.pi / self.num_heads)
        direction = torch.stack([theta.cos(), theta.sin()], -1)
        direction = direction / direction.abs().max(-1, keepdim=True)[0]
        scale = torch.arange(1, self.num_points + 1, dtype=torch.float32).view(1, 1, -1, 1)
        bias = direction.view(self.num_heads, 1, 1, 2) * scale  # [M, 1, P, 2]
        self.sampling_offsets.bias.copy_(bias.expand(-1, self.num_levels, -1, -1).flatten())
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.zeros_(self.value_proj.bias)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.zeros_(self.output_proj.bias)

    def forward(
        self,
        query: Tensor,
        reference_points: Tensor,
        value: Tensor,
        spatial_shapes: SpatialShapes,
        padding_mask: Optional[Tensor] = None,
    ) -> Tensor:
        """Attend from ``query`` ``[N, Lq, C]`` to ``value`` ``[N, S, C]`` (levels flattened and concatenated).

        ``reference_points``: ``[N or 1, Lq, L, 2]`` normalized ``(x, y)``, or ``[.., 4]`` boxes
        ``(cx, cy, w, h)``; ``padding_mask``: ``[N, S]``, True = padding (its values are zeroed).
        """
        shapes = _shape_list(spatial_shapes)
        n, lq, _ = query.shape
        if len(shapes) != self.num_levels:
            raise ValueError(f"MSDeformAttn was built for {self.num_levels} levels but got spatial_shapes {shapes}.")
        value = self.value_proj(value)  # under autocast: a low-precision matrix product
        if padding_mask is not None:
            value = value.masked_fill(padding_mask[..., None], 0.0)
        value = value.view(n, value.shape[1], self.num_heads, self.embed_dim // self.num_heads)
        logits = self.attention_weights(query)  # softmax statistics below in >= fp32
        # the fp32 island (the official MSDeformAttnFunction's cast_inputs=float32): sampling offsets,
        # locations, attention weights and the sampling core, with autocast off; output_proj autocasts again
        with autocast_off(query.device.type):
            ct = torch.promote_types(self.sampling_offsets.weight.dtype, torch.float32)
            offsets = F.linear(query.to(ct), self.sampling_offsets.weight.to(ct), self.sampling_offsets.bias.to(ct))
            locations = self._locations(offsets, reference_points.to(ct), shapes)
            weights = logits.to(ct).view(n, lq, self.num_heads, -1).softmax(-1)
            out = ms_deform_attn(value.to(ct), shapes, locations, weights.view(locations.shape[:-1]))
        return self.output_proj(out.to(self.output_proj.weight.dtype))

    def _locations(self, offsets: Tensor, reference_points: Tensor, shapes: list[tuple[int, int]]) -> Tensor:
        """Sampling locations ``[N, Lq, M, L, P, 2]`` from offsets ``[N, Lq, M*L*P*2]`` and reference points."""
        n, lq, _ = offsets.shape
        m, lvl, p = self.num_heads, self.num_levels, self.num_points
        if reference_points.shape[-1] == 2:
            # ref + offset / (W_l, H_l), laid out as [.., L*P*2] rows (a 2-wide broadcast is ~5x slower on CPU)
            size = torch.tensor([[w, h] for h, w in shapes], dtype=offsets.dtype, device=offsets.device)
            size = size.repeat_interleave(p, 0).flatten()
            ref = reference_points[:, :, None, :, None, :].expand(-1, -1, 1, lvl, p, 2)
            ref = ref.reshape(-1, lq, 1, lvl * p * 2)
            return (offsets.view(n, lq, m, lvl * p * 2) / size + ref).view(n, lq, m, lvl, p, 2)
        if reference_points.shape[-1] == 4:
            ref = reference_points[:, :, None, :, None, :]
            return ref[..., :2] + offsets.view(n, lq, m, lvl, p, 2) / p * ref[..., 2:] * 0.5
        raise ValueError(
            f"MSDeformAttn: reference_points must end in 2 (x, y) or 4 (cx, cy, w, h), "
            f"got shape {tuple(reference_points.shape)}."
        )
