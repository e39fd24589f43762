"""Post-processing as transformers' ``MaskFormerImageProcessor`` does it (a swappable alternative to
:class:`~segformers.models.postprocess.MaskFormerInference`).

The official MaskFormer / Mask2Former code upsamples the mask *logits* to the input size and then
combines them with the class scores; transformers' processor combines them at the decoder's 1/4
resolution and upsamples the result (semantic scores, binary instance masks, panoptic probabilities)
straight to ``target_sizes``. The maps differ along boundaries. This postprocessor delegates to
:mod:`segformers.processing.postprocess` (result-identical to transformers) so that ``inference()`` on a
converted Hugging Face checkpoint gives the same maps as ``transformers`` model + processor.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import Tensor

from ..processing import postprocess as hf_post
from ..registry import POSTPROCESSORS


def crop_low_res(mask_pred: Tensor, img_shape: Sequence[int], pad_shape: Sequence[int]) -> Tensor:
    """Drop the part of low-resolution masks ``[Q, h, w]`` that only covers the batch padding:
    keep ``ceil(h * img_h / pad_h)`` rows and likewise columns (exact when the sizes divide)."""
    h, w = mask_pred.shape[-2:]
    rows = min(h, math.ceil(h * int(img_shape[0]) / int(pad_shape[0])))
    cols = min(w, math.ceil(w * int(img_shape[1]) / int(pad_shape[1])))
    return mask_pred[..., :rows, :cols]


@POSTPROCESSORS.register_module()
class HFImageProcessorInference:
    """Semantic / instance / panoptic results exactly as transformers' processor post-processing with
    ``target_sizes=[ori_shape]``, in the result format of ``MaskFormerInference``.

    ``MaskFormer.predict`` hands every postprocessor the decoder's low-resolution mask logits together
    with ``metainfo["batch_input_shape"]`` (the padded input size); this one crops the padding from the
    low-resolution logits before resizing them to the original size, as transformers does.

    Args:
        semantic_on / instance_on / panoptic_on: which results to produce.
        threshold: instance score threshold and panoptic query threshold (transformers' ``threshold``).
        mask_threshold: panoptic ``mask_threshold``.
        overlap_mask_area_threshold: panoptic overlap threshold.
        label_ids_to_fuse: panoptic classes whose segments are merged per class; ``None`` uses the stuff
            classes (all classes not in the thing ids) when thing ids are known, else fuses nothing.
        thing_ids: contiguous ids of thing classes; ``None`` reads ``thing_ids`` from the metainfo
            (``MaskFormer.set_dataset_meta`` also fills it). Only used for ``label_ids_to_fuse`` and
            ``isthing``.

    Results: ``sem_seg`` ``[K, H, W]`` class scores; ``panoptic_seg`` ``([H, W] int32 ids, 0 = void,
    segments_info with id, isthing, category_id, score)``; ``instances`` with ``scores``, ``labels``,
    ``masks [N, H, W]`` bool, ``boxes`` (zeros) and ``query_ids``.
    """

    def __init__(
        self,
        *,
        semantic_on: bool = True,
        instance_on: bool = False,
        panoptic_on: bool = False,
        threshold: float = 0.5,
        mask_threshold: float = 0.5,
        overlap_mask_area_threshold: float = 0.8,
        label_ids_to_fuse: Optional[Sequence[int]] = None,
        thing_ids: Optional[Sequence[int]] = None,
    ) -> None:
        if not (semantic_on or instance_on or panoptic_on):
            raise ValueError(
                "HFImageProcessorInference: enable at least one of semantic_on, instance_on, panoptic_on."
            )
        self.semantic_on, self.instance_on, self.panoptic_on = semantic_on, instance_on, panoptic_on
        self.threshold = threshold
        self.mask_threshold = mask_threshold
        self.overlap_mask_area_threshold = overlap_mask_area_threshold
        self.label_ids_to_fuse = None if label_ids_to_fuse is None else [int(i) for i in label_ids_to_fuse]
        self.thing_ids = None if thing_ids is None else [int(i) for i in thing_ids]

    def _known_thing_ids(self, metainfo: dict) -> Optional[list[int]]:
        if self.thing_ids is not None:
            return self.thing_ids
        if metainfo.get("thing_ids") is not None:
            return [int(i) for i in metainfo["thing_ids"]]
        return None

    def _fuse_ids(self, num_classes: int, thing_ids: Optional[list[int]]) -> Optional[list[int]]:
        if self.label_ids_to_fuse is not None:
            return self.label_ids_to_fuse
        if thing_ids is None:
            return None
        things = set(thing_ids)
        return [c for c in range(num_classes) if c not in things]

    def __call__(self, mask_cls: Tensor, mask_pred: Tensor, metainfo: dict) -> dict:
        """``mask_cls [Q, K+1]``, ``mask_pred [Q, h, w]`` low-resolution logits of the padded input."""
        pad_shape = metainfo.get("batch_input_shape", metainfo.get("pad_shape"))
        img_shape = metainfo.get("img_shape", pad_shape)
        if pad_shape is not None and img_shape is not None:
            mask_pred = crop_low_res(mask_pred, img_shape, pad_shape)
        ori_shape = metainfo.get("ori_shape", img_shape)
        target = None if ori_shape is None else [(int(ori_shape[0]), int(ori_shape[1]))]
        outputs = {"class_queries_logits": mask_cls[None].float(), "masks_queries_logits": mask_pred[None].float()}
        num_classes = mask_cls.shape[-1] - 1
        result: dict = {}
        if self.semantic_on:
            sem = hf_post.semantic_segmentation(outputs, target, return_segmentation_scores=True)[0]
            result["sem_seg"] = sem.segmentation_scores
        if self.panoptic_on:
            result["panoptic_seg"] = self._panoptic(outputs, target, num_classes, metainfo)
        if self.instance_on:
            result["instances"] = self._instances(mask_cls, mask_pred, target)
        return result

    def _panoptic(  # noqa: ANN001
        self, outputs: dict, target, num_classes: int, metainfo: dict
    ) -> tuple[Tensor, list[dict]]:
        thing_ids = self._known_thing_ids(metainfo)
        fuse = self._fuse_ids(num_classes, thing_ids)
        res = hf_post.panoptic_segmentation(
            outputs, threshold=self.threshold, mask_threshold=self.mask_threshold,
            overlap_mask_area_threshold=self.overlap_mask_area_threshold,
            label_ids_to_fuse=fuse, target_sizes=target,
        )[0]
        seg = res["segmentation"]
        if not res["segments_info"]:  # transformers' all -1 map for "nothing kept" is void (0) here
            return torch.zeros(seg.shape, dtype=torch.int32, device=seg.device), []
        fused = set(fuse or ())
        segments = [
            {
                "id": int(s["id"]),
                "isthing": (s["label_id"] in thing_ids) if thing_ids is not None else s["label_id"] not in fused,
                "category_id": int(s["label_id"]),
                "score": float(s["score"]),
            }
            for s in res["segments_info"]
        ]
        return seg.to(torch.int32), segments

    def _instances(self, mask_cls: Tensor, mask_pred: Tensor, target) -> dict[str, Tensor]:  # noqa: ANN001
        """transformers' instance selection (``instance_segmentation`` with binary maps), kept queries included."""
        size = None if target is None else target[0]
        binary, scores, labels, keep, query_ids = hf_post.instance_image(
            mask_cls.float(), mask_pred.float(), size, self.threshold
        )
        return {
            "scores": torch.tensor([round(v, 6) for v in scores[keep].tolist()], dtype=torch.float32,
                                   device=mask_cls.device),  # rounded like the processor's segments_info
            "labels": labels[keep].to(torch.int64),
            "masks": binary[keep] > 0,
            "boxes": torch.zeros((int(keep.sum()), 4), device=mask_cls.device),
            "query_ids": query_ids[keep],
        }
