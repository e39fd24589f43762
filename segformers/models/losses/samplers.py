"""Gather matched (prediction, ground truth) mask pairs and turn them into ``[M, P]`` rows for the losses."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from segformers.models.layers.point_sample import point_sample, uncertain_point_coords
from segformers.structures import Targets


def gather_matched_masks(
    mask_logits: Tensor, targets: Sequence[Targets], indices: Sequence[tuple[Tensor, Tensor]]
) -> tuple[Tensor, Tensor]:
    """Matched pairs in batch order, then matcher order within an image.

    Args:
        mask_logits: ``[B, Q, h, w]``.
        targets: one :class:`Targets` per image, masks ``[N_b, H_b, W_b]``.
        indices: per image ``(pred_idx [n_b], tgt_idx [n_b])``.

    Returns:
        ``pred [M, h, w]`` (float32, with grad) and ``gt [M, H, W]`` (float32), ``M = sum n_b``; ground-truth
        masks of different sizes are zero-padded bottom/right to the largest (official ``nested_tensor``).
    """
    device = mask_logits.device
    height = max(t.masks.shape[-2] for t in targets)
    width = max(t.masks.shape[-1] for t in targets)
    batch_idx = torch.cat([torch.full_like(src, b) for b, (src, _) in enumerate(indices)]).to(device)
    pred_idx = torch.cat([src for src, _ in indices]).to(device)
    pred = mask_logits[batch_idx, pred_idx].float()
    gts = []
    for target, (_, tgt) in zip(targets, indices):
        gt = target.masks[tgt.to(target.masks.device)].to(device=device, dtype=torch.float32)
        pad = (0, width - gt.shape[-1], 0, height - gt.shape[-2])
        gts.append(F.pad(gt, pad) if any(pad) else gt)
    return pred, torch.cat(gts)


class MatchedMaskSampler:
    """Rows of matched masks on which the mask losses are computed.

    Args:
        num_points: Mask2Former: ``P`` importance-sampled points per pair (:func:`uncertain_point_coords`
            on the prediction, uncertainty ``-|logit|``), the SAME points for the prediction and its ground
            truth (and for every mask loss). ``None`` (MaskFormer): predictions upsampled bilinearly
            (``align_corners=False``) to the padded ground-truth size, every pixel used.
        oversample_ratio: PointRend oversampling (official 3.0).
        importance_sample_ratio: fraction of points chosen by uncertainty (official 0.75).

    Call: ``sampler(pred [M, h, w], gt [M, H, W]) -> (logits [M, P], labels [M, P])``.
    """

    def __init__(self, *, num_points: Optional[int] = 12544, oversample_ratio: float = 3.0,
                 importance_sample_ratio: float = 0.75) -> None:
        if num_points is not None and num_points <= 0:
            raise ValueError(f"num_points must be a positive int or None (full masks), got {num_points}")
        self.num_points = num_points
        self.oversample_ratio = float(oversample_ratio)
        self.importance_sample_ratio = float(importance_sample_ratio)

    def __call__(self, pred: Tensor, gt: Tensor) -> tuple[Tensor, Tensor]:
        if self.num_points is None:
            pred = F.interpolate(pred[:, None], size=gt.shape[-2:], mode="bilinear", align_corners=False)
            return pred.flatten(1), gt.flatten(1)
        with torch.no_grad():
            coords = uncertain_point_coords(
                pred[:, None], self.num_points, self.oversample_ratio, self.importance_sample_ratio
            )
            labels = point_sample(gt[:, None], coords)[:, 0]
        return point_sample(pred[:, None], coords)[:, 0], labels

    def __repr__(self) -> str:
        return (f"MatchedMaskSampler(num_points={self.num_points}, oversample_ratio={self.oversample_ratio}, "
                f"importance_sample_ratio={self.importance_sample_ratio})")
