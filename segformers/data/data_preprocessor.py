"""Model-side batching: normalize, pad to a size divisor, pad the targets to the batch size."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor
from torch import Tensor

from ..registry import MODELS
from ..structures import SegDataSample, Targets


@MODELS.register_module()
class SegDataPreprocessor(BaseDataPreprocessor):
    """``(x - mean) / std`` per image, then zero-pad bottom/right to a common multiple of ``size_divisor``.

    Input ``data = {"inputs": list of [3, H_i, W_i] (uint8 or float, RGB, 0-255), "data_samples": list}``.
    Output ``{"inputs": [B, 3, H, W] float, "data_samples": ...}`` where every sample's ``gt`` masks are
    zero-padded to ``(H, W)`` (the training targets) and metainfo gets ``batch_input_shape`` and
    ``pad_shape``; evaluation ground truth stays untouched. The official code pads with 0 after
    normalization.
    """

    def __init__(
        self,
        *,
        mean: Sequence[float] = (123.675, 116.28, 103.53),
        std: Sequence[float] = (58.395, 57.12, 57.375),
        size_divisor: int = 32,
        pad_value: float = 0.0,
        bgr_to_rgb: bool = False,
        non_blocking: bool = False,
    ) -> None:
        super().__init__(non_blocking)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f"SegDataPreprocessor: mean and std need 3 values, got {mean} and {std}.")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), False)
        self.size_divisor = max(int(size_divisor), 1)
        self.pad_value = pad_value
        self.bgr_to_rgb = bgr_to_rgb

    def batch_shape(self, shapes: Sequence[Sequence[int]]) -> tuple[int, int]:
        """The padded ``(H, W)`` of a batch whose images have ``shapes``."""
        h = max(int(s[0]) for s in shapes)
        w = max(int(s[1]) for s in shapes)
        d = self.size_divisor
        return int(math.ceil(h / d) * d), int(math.ceil(w / d) * d)

    def normalize_and_pad(self, images: Sequence[Tensor]) -> Tensor:
        """List of ``[3, H_i, W_i]`` -> ``[B, 3, H, W]`` float, normalized, zero-padded bottom/right."""
        for img in images:
            if img.ndim != 3 or img.shape[0] != 3:
                raise ValueError(f"SegDataPreprocessor expects [3, H, W] images, got shape {tuple(img.shape)}.")
        size = self.batch_shape([img.shape[-2:] for img in images])
        batch = images[0].new_full((len(images), 3, *size), self.pad_value, dtype=torch.float32)
        for i, img in enumerate(images):
            img = img.float()
            if self.bgr_to_rgb:
                img = img.flip(0)
            h, w = img.shape[-2:]
            batch[i, :, :h, :w] = (img - self.mean) / self.std
        return batch

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        images = data["inputs"]
        if isinstance(images, Tensor) and images.ndim == 4:
            images = list(images)
        batch = self.normalize_and_pad(images)
        samples: Optional[list[SegDataSample]] = data.get("data_samples")
        if samples is not None:
            size = tuple(batch.shape[-2:])
            for sample in samples:
                self._pad_sample(sample, size)
        return {"inputs": batch, "data_samples": samples}

    def _pad_sample(self, sample: SegDataSample, size: tuple[int, int]) -> None:
        sample.set_metainfo({"batch_input_shape": size, "pad_shape": size})
        if "gt" in sample:
            gt: Targets = sample.gt
            h, w = gt.masks.shape[-2:]
            masks = F.pad(gt.masks, (0, size[1] - w, 0, size[0] - h), value=0)
            sample.gt = Targets(gt.labels, masks)
