"""The typed contracts between the stages of the data flow.

``backbone -> dict[str, Tensor]`` (``res2``..``res5``), ``pixel decoder -> PixelDecoderOutput``,
``transformer decoder -> DecoderOutput``, ``criterion(DecoderOutput, list[Targets]) -> dict``,
and, for the Hugging Face-style API, :class:`SegmentationOutput`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from mmengine.structures import BaseDataElement
from torch import Tensor


@dataclass
class PixelDecoderOutput:
    """What every pixel decoder returns.

    Args:
        mask_features: per-pixel embeddings, ``[B, mask_dim, H/4, W/4]``.
        multi_scale_features: feature maps ordered low -> high resolution
            (e.g. 1/32, 1/16, 1/8), each ``[B, C, h_l, w_l]``; may be empty.
        encoder_features: the transformer-encoder output on the lowest resolution, ``[B, C, h, w]``,
            or ``None`` when the decoder has no such encoder.
    """

    mask_features: Tensor
    multi_scale_features: list[Tensor] = field(default_factory=list)
    encoder_features: Optional[Tensor] = None

    def as_features(self) -> dict[str, Any]:
        """The outputs under their spec-bank names: ``mask_features``, ``multi_scale`` and, if any,
        ``encoder`` (the keys of the pixel decoder's ``output_shape()``)."""
        out: dict[str, Any] = {"mask_features": self.mask_features, "multi_scale": list(self.multi_scale_features)}
        if self.encoder_features is not None:
            out["encoder"] = self.encoder_features
        return out


@dataclass
class DecoderOutput:
    """What every transformer decoder returns: one prediction set per layer (every layer, always;
    the criterion decides which ones it supervises).

    Args:
        class_logits: list of ``[B, Q, K+1]``; the last entry is the final prediction.
        mask_logits: list of ``[B, Q, H/4, W/4]`` aligned with ``class_logits``.
        hidden_states: optional query states ``[B, Q, C]`` before the decoder's final norm: its input
            queries, then every layer's output (``num_layers + 1`` entries).
    """

    class_logits: list[Tensor]
    mask_logits: list[Tensor]
    hidden_states: Optional[list[Tensor]] = None

    @property
    def pred_logits(self) -> Tensor:
        """Final class logits ``[B, Q, K+1]``."""
        return self.class_logits[-1]

    @property
    def pred_masks(self) -> Tensor:
        """Final mask logits ``[B, Q, H/4, W/4]``."""
        return self.mask_logits[-1]

    def __len__(self) -> int:
        return len(self.class_logits)


@dataclass
class Targets:
    """Ground truth of one image: one class id and one binary mask per segment.

    Args:
        labels: ``[N]`` int64 contiguous class ids in ``[0, K)``.
        masks: ``[N, H, W]`` bool (or 0/1) masks at the (padded) input resolution.
    """

    labels: Tensor
    masks: Tensor

    def __post_init__(self) -> None:
        if self.labels.ndim != 1:
            raise ValueError(f"Targets.labels must be 1-D [N], got shape {tuple(self.labels.shape)}")
        if self.masks.ndim != 3 or self.masks.shape[0] != self.labels.shape[0]:
            raise ValueError(
                f"Targets.masks must be [N, H, W] with N = len(labels) = {self.labels.shape[0]}, "
                f"got shape {tuple(self.masks.shape)}"
            )

    def to(self, *args: Any, **kwargs: Any) -> "Targets":
        return Targets(self.labels.to(*args, **kwargs), self.masks.to(*args, **kwargs))

    def __len__(self) -> int:
        return int(self.labels.shape[0])


MatchIndices = list[tuple[Tensor, Tensor]]
"""A matcher's result: per image ``(pred_idx int64 [n], tgt_idx int64 [n])``, ``n = min(Q, N)``."""


class SegDataSample(BaseDataElement):
    """One image's annotations, metadata and predictions as they travel through the Runner.

    Fields used by segformers: ``gt`` (:class:`Targets`), ``gt_sem_seg`` (``[H, W]`` int64, optional),
    ``gt_panoptic`` (dict, optional), and after prediction ``pred`` (a dict with any of ``sem_seg``
    ``[K, H, W]``, ``panoptic_seg`` ``([H, W] int32, segments_info)``, ``instances``).
    Metainfo keys: ``img_path``, ``ori_shape`` (H, W), ``img_shape`` (H, W) after the test resize,
    ``pad_shape``, ``batch_input_shape``.
    """


@dataclass
class SegmentationOutput:
    """Hugging Face-named raw outputs (see :func:`segformers.apis.forward_logits`).

    Args:
        class_queries_logits: ``[B, Q, K+1]``.
        masks_queries_logits: ``[B, Q, H/4, W/4]``.
        auxiliary_logits: one dict per earlier decoder layer with the two keys above.
    """

    class_queries_logits: Tensor
    masks_queries_logits: Tensor
    auxiliary_logits: list[dict[str, Tensor]] = field(default_factory=list)

    @classmethod
    def from_decoder_output(cls, out: DecoderOutput) -> "SegmentationOutput":
        aux = [
            {"class_queries_logits": c, "masks_queries_logits": m}
            for c, m in zip(out.class_logits[:-1], out.mask_logits[:-1])
        ]
        return cls(out.class_logits[-1], out.mask_logits[-1], aux)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)
