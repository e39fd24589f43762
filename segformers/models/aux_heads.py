"""Auxiliary training heads: extra dense supervision of the features, dropped at inference.

mmsegmentation users know this as ``auxiliary_head`` (an FCN head on a backbone stage). Neither
paper uses one. The quick start trains one on its mask features: the things' pixel classes are learnt
faster from scratch (``docs/quickstart.md``, "One run is one draw").
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..registry import AUX_HEADS
from ..structures import MULTI_SCALE, Targets, select_shapes


def semantic_targets(targets: Sequence[Targets], num_classes: int, ignore_index: int = 255) -> Tensor:
    """Per-pixel class maps ``[B, H, W]`` int64 from segment targets; pixels of no segment get ``ignore_index``.

    Segments are painted in order, so a later mask wins where two overlap (panoptic and semantic
    targets do not overlap)."""
    maps = []
    for t in targets:
        if t.masks.shape[0] and int(t.labels.max()) >= num_classes:
            raise ValueError(f"semantic_targets: label {int(t.labels.max())} is outside [0, {num_classes}).")
        out = torch.full(t.masks.shape[-2:], ignore_index, dtype=torch.long, device=t.masks.device)
        for label, mask in zip(t.labels.tolist(), t.masks.bool()):
            out[mask] = label
        maps.append(out)
    return torch.stack(maps)


@AUX_HEADS.register_module()
class PixelClassificationHead(nn.Module):
    """Per-pixel classifier on one feature map, trained with cross-entropy; not used at inference.

    Args:
        input_shape: the spec bank (injected by the segmentor); the head reads the channels of ``in_feature``.
        num_classes: K (injected).
        in_feature: which map to classify: ``"mask_features"`` (pixel decoder output), ``"encoder"``
            (its encoder output, where it has one) or a backbone level name such as ``"res5"``.
        channels / num_convs: ``num_convs`` 3x3 conv-BN-ReLU blocks of ``channels`` before the 1x1
            classifier (0: a linear classifier on the features themselves).
        loss_weight: weight of the loss ``loss_aux_sem``.
        ignore_index: label of pixels without a segment (void, padding).

    ``forward([B, C, h, w]) -> [B, K, h, w]`` logits; ``loss(feature, targets)`` upsamples them to the
    targets' (padded input) size and returns ``{"loss_aux_sem": scalar}``.
    """

    def __init__(self, *, input_shape: Mapping[str, Any], num_classes: int, in_feature: str = "mask_features",
                 channels: int = 64, num_convs: int = 0, loss_weight: float = 1.0,
                 ignore_index: int = 255) -> None:
        super().__init__()
        if num_convs < 0:
            raise ValueError(f"PixelClassificationHead: num_convs must be >= 0, got {num_convs}.")
        if in_feature == MULTI_SCALE:
            raise ValueError("auxiliary_head.in_feature='multi_scale' is not supported by PixelClassificationHead; "
                             "use one map: 'mask_features', 'encoder' or a backbone level name such as 'res5'.")
        in_channels = select_shapes(f"Auxiliary head {type(self).__name__}", input_shape, in_feature)[0].channels
        self.in_feature, self.num_classes = in_feature, num_classes
        self.loss_weight, self.ignore_index = loss_weight, ignore_index
        blocks: list[nn.Module] = []
        c = in_channels
        for _ in range(num_convs):
            blocks += [nn.Conv2d(c, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()]
            c = channels
        self.convs = nn.Sequential(*blocks)
        self.classifier = nn.Conv2d(c, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.convs(x))

    def loss(self, x: Tensor, targets: Sequence[Targets]) -> dict[str, Tensor]:
        sem = semantic_targets(targets, self.num_classes, self.ignore_index)
        logits = F.interpolate(self(x).float(), size=sem.shape[-2:], mode="bilinear", align_corners=False)
        if (sem != self.ignore_index).any():
            loss = F.cross_entropy(logits, sem, ignore_index=self.ignore_index)
        else:  # nothing labelled: a zero that keeps the graph (and DDP) intact
            loss = logits.sum() * 0.0
        return {"loss_aux_sem": loss * self.loss_weight}
