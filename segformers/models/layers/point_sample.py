"""Point sampling of dense maps (PointRend), used by the matcher and the mask losses.

Coordinates are normalized to ``[0, 1] x [0, 1]`` as ``(x, y)`` over the *whole* map, so the same points
address a 1/4-resolution prediction and a full-resolution ground-truth mask alike.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def point_sample(input: Tensor, coords: Tensor) -> Tensor:
    """Bilinearly read ``input`` at normalized points (zero outside the map).

    Args:
        input: ``[N, C, H, W]`` floating maps.
        coords: ``[N, P, 2]`` points ``(x, y)`` in ``[0, 1]``.

    Returns:
        ``[N, C, P]``: ``grid_sample`` of ``input`` on ``2 * coords - 1`` with ``align_corners=False``,
        in the promoted dtype of ``input`` and ``coords``.
    """
    if input.ndim != 4:
        raise ValueError(f"point_sample expects input [N, C, H, W], got shape {tuple(input.shape)}")
    if coords.ndim != 3 or coords.shape[-1] != 2 or coords.shape[0] != input.shape[0]:
        raise ValueError(
            f"point_sample expects coords [N, P, 2] with N = {input.shape[0]} (input batch), "
            f"got shape {tuple(coords.shape)}"
        )
    dtype = torch.promote_types(input.dtype, coords.dtype)  # e.g. fp16 logits with fp32 points -> fp32
    grid = (2.0 * coords.to(dtype) - 1.0).unsqueeze(2)  # [N, P, 1, 2]
    return F.grid_sample(input.to(dtype), grid, mode="bilinear", align_corners=False).squeeze(3)


def uncertain_point_coords(
    logits: Tensor, num_points: int, oversample_ratio: float, importance_sample_ratio: float
) -> Tensor:
    """PointRend importance sampling with uncertainty ``-|logit|`` (Mask2Former training points).

    Draws ``int(num_points * oversample_ratio)`` uniform points per map, keeps the
    ``int(importance_sample_ratio * num_points)`` most uncertain ones and appends fresh uniform points up
    to ``num_points``. Random draws, in this order: ``torch.rand(N, num_oversampled, 2)`` then (if any
    remain) ``torch.rand(N, num_random, 2)``, both on ``logits.device`` from the global generator.

    Args:
        logits: ``[N, 1, h, w]`` class-agnostic mask logits.
        num_points: points per map ``P``.
        oversample_ratio: ``>= 1``.
        importance_sample_ratio: in ``[0, 1]``.

    Returns:
        ``[N, P, 2]`` coordinates in ``[0, 1]``.
    """
    if logits.ndim != 4 or logits.shape[1] != 1:
        raise ValueError(f"uncertain_point_coords expects logits [N, 1, h, w], got {tuple(logits.shape)}")
    if oversample_ratio < 1:
        raise ValueError(f"oversample_ratio must be >= 1, got {oversample_ratio}")
    if not 0 <= importance_sample_ratio <= 1:
        raise ValueError(f"importance_sample_ratio must be in [0, 1], got {importance_sample_ratio}")
    num_maps = logits.shape[0]
    num_sampled = int(num_points * oversample_ratio)
    coords = torch.rand(num_maps, num_sampled, 2, device=logits.device)
    uncertainty = -point_sample(logits, coords).abs()  # [N, 1, num_sampled]
    num_uncertain = int(importance_sample_ratio * num_points)
    num_random = num_points - num_uncertain
    top = torch.topk(uncertainty[:, 0, :], k=num_uncertain, dim=1)[1]  # [N, num_uncertain]
    coords = torch.gather(coords, 1, top[..., None].expand(-1, -1, 2))
    if num_random > 0:
        coords = torch.cat([coords, torch.rand(num_maps, num_random, 2, device=logits.device)], dim=1)
    return coords
