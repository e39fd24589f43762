"""Semantic, instance and panoptic inference exactly as the official MaskFormer / Mask2Former code.

The official code loops over queries with ``.item()``; here the per-pixel work is vectorized (the
kernels of :mod:`.kernels`) and the only Python loop left is the id assignment over the (at most Q)
kept queries, which must follow query order to merge stuff segments the official way.
"""
from __future__ import annotations

from typing import Literal, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ...registry import POSTPROCESSORS
from .banded import BandedResize
from .chunked import InstanceBands, PanopticBands, SemanticBands, run_bands
from .kernels import (
    assign_segment_ids, mask_scores, matrix_nms_decay_sorted, pixel_winner, semantic_scores, topk_query_classes,
)

# the official name: ``[Q, K+1]`` class logits, ``[Q, H, W]`` mask logits -> ``[K, H, W]`` class scores
semantic_inference = semantic_scores


def panoptic_inference(
    mask_cls: Tensor,
    mask_pred: Tensor,
    *,
    thing_ids: Sequence[int],
    object_mask_threshold: float,
    overlap_threshold: float,
    intersect_with_mask: bool = True,
) -> tuple[Tensor, list[dict]]:
    """Panoptic segmentation of one image.

    Args:
        mask_cls: ``[Q, K+1]`` class logits; mask_pred: ``[Q, H, W]`` mask logits.
        thing_ids: contiguous ids of the thing classes (others are stuff and get merged per class).
        object_mask_threshold: keep queries whose best non-void score exceeds this.
        overlap_threshold: drop a segment whose visible area / own area (p >= 0.5) is below this.
        intersect_with_mask: Mask2Former (True) keeps only pixels with p >= 0.5 inside a segment;
            MaskFormer (False) keeps every pixel where the query wins the argmax.

    Returns:
        ``[H, W]`` int32 id map (0 = void) and ``segments_info`` (``id``, ``isthing``,
        ``category_id``) with ids from 1 in query order.
    """
    num_classes = mask_cls.shape[-1] - 1
    scores, labels = F.softmax(mask_cls, dim=-1).max(-1)
    keep = labels.ne(num_classes) & (scores > object_mask_threshold)
    if not bool(keep.any()):
        return torch.zeros(mask_pred.shape[-2:], dtype=torch.int32, device=mask_pred.device), []
    cur_scores, cur_classes, cur_probs = scores[keep], labels[keep], mask_pred.sigmoid()[keep]
    own = cur_probs >= 0.5  # [N, H, W]
    ids, mask_area, original_area, ratio = pixel_winner(cur_scores.view(-1, 1, 1) * cur_probs, own)
    owner_own = own.gather(0, ids[None]).squeeze(0)  # [H, W]: the pixel is inside its winner's own mask
    valid = (mask_area > 0) & (original_area > 0) & (ratio >= overlap_threshold)
    if intersect_with_mask:  # the segment keeps only pixels inside its own mask: some must be left
        valid &= torch.bincount(ids[owner_own], minlength=len(cur_classes)) > 0
    classes = cur_classes.tolist()
    things = set(thing_ids)
    lut, first = assign_segment_ids(valid.tolist(), classes, set(range(num_classes)) - things)
    segments = [{"id": i + 1, "isthing": classes[q] in things, "category_id": int(classes[q])}
                for i, q in enumerate(first)]
    seg = torch.tensor(lut, dtype=torch.int32, device=mask_pred.device)[ids]
    if intersect_with_mask:
        seg = torch.where(owner_own, seg, torch.zeros_like(seg))
    return seg, segments


def instance_inference(
    mask_cls: Tensor,
    mask_pred: Tensor,
    *,
    topk: int,
    thing_ids: Optional[Sequence[int]] = None,
    matrix_nms_sigma: Optional[float] = None,
) -> dict[str, Tensor]:
    """Top-k instances over queries x classes (query-major), score = class prob x mask score.

    Args:
        mask_cls: ``[Q, K+1]``; mask_pred: ``[Q, H, W]`` logits.
        topk: number of (query, class) pairs kept (official: 100).
        thing_ids: when given (panoptic models), pairs of stuff classes are dropped after top-k.
        matrix_nms_sigma: not official: when given, the scores are decayed by Gaussian matrix NMS
            (:func:`matrix_nms_decay`), which ranks duplicate masks of one thing lower.

    Returns:
        dict with ``scores [N]``, ``labels [N]`` (int64), ``masks [N, H, W]`` (bool), ``boxes [N, 4]``
        (zeros, as the official code), ``query_ids [N]``.
    """
    num_queries, num_classes = mask_cls.shape[0], mask_cls.shape[-1] - 1
    if topk > num_queries * num_classes:
        raise ValueError(
            f"instance inference asks for top-{topk} of {num_queries} queries x {num_classes} "
            "classes; lower postprocessor.topk_per_image or use more queries."
        )
    top_scores, top_labels, query_ids = topk_query_classes(mask_cls, topk)
    if thing_ids is not None:
        is_thing = torch.isin(top_labels, torch.as_tensor(list(thing_ids), device=top_labels.device))
        top_scores, top_labels, query_ids = top_scores[is_thing], top_labels[is_thing], query_ids[is_thing]
    binary, quality = mask_scores(mask_pred[query_ids])
    masks = binary.bool()
    scores = top_scores * quality
    if matrix_nms_sigma is not None:
        scores = scores * matrix_nms_decay(masks, top_labels, scores, matrix_nms_sigma)
    return {
        "scores": scores,
        "labels": top_labels,
        "masks": masks,
        "boxes": torch.zeros((masks.shape[0], 4), device=masks.device),
        "query_ids": query_ids,
    }


def matrix_nms_decay(masks: Tensor, labels: Tensor, scores: Tensor, sigma: float) -> Tensor:
    """Gaussian matrix NMS (SOLOv2): the factor ``[N]`` by which each instance's score is decayed.

    ``masks [N, H, W]`` (bool), ``labels [N]``, ``scores [N]``. For instance ``j`` and every higher-scored
    instance ``i`` of its class: ``exp(-sigma * (iou_ij^2 - comp_i^2))``, minimised over ``i``, where
    ``comp_i`` is ``i``'s own largest IoU with an instance scored above it (a mask that is itself a
    duplicate suppresses less). The top instance of each class keeps factor 1.
    """
    if scores.numel() == 0:  # no candidate of a thing class
        return scores.new_ones(0)
    order = scores.argsort(descending=True)
    flat = masks[order].flatten(1).float()
    return matrix_nms_decay_sorted(flat @ flat.T, flat.sum(1), labels, order, sigma)


def masks_by_query(instances: dict) -> dict:
    """``instances`` with ``masks [N, H, W]`` replaced by ``query_masks [U, H, W]`` (one per distinct query
    of ``query_ids``, in increasing query order) and ``mask_index [N]`` into them."""
    unique, index = torch.unique(instances["query_ids"], return_inverse=True)
    first = torch.full((len(unique),), len(index), dtype=torch.int64).scatter_reduce(
        0, index, torch.arange(len(index)), reduce="amin")
    out: dict = {}
    for key, value in instances.items():
        out.update({"query_masks": value[first], "mask_index": index} if key == "masks" else {key: value})
    return out


def resize_to_original(masks: Tensor, img_shape: Sequence[int], ori_shape: Sequence[int]) -> Tensor:
    """Crop the padding (``[..., :h, :w]`` with ``img_shape``) then resize bilinearly to ``ori_shape``."""
    h, w = int(img_shape[0]), int(img_shape[1])
    cropped = masks[..., :h, :w]
    if tuple(cropped.shape[-2:]) == (int(ori_shape[0]), int(ori_shape[1])):
        return cropped
    return F.interpolate(
        cropped[None].float(), size=(int(ori_shape[0]), int(ori_shape[1])),
        mode="bilinear", align_corners=False,
    )[0]


@POSTPROCESSORS.register_module()
class MaskFormerInference:
    """Turns one image's final predictions into the results the config asks for.

    Args:
        semantic_on / instance_on / panoptic_on: which results to produce.
        object_mask_threshold: panoptic query threshold (official 0.8; MaskFormer semantic 0.0).
        overlap_threshold: panoptic overlap threshold (0.8).
        topk_per_image: instance top-k (100).
        instance_matrix_nms_sigma: not official (``None``, the default, is the official inference): the
            instance scores are decayed by Gaussian matrix NMS with this sigma (:func:`matrix_nms_decay`).
        panoptic_intersect_mask: Mask2Former's ``mask & (p >= 0.5)`` (True) or MaskFormer's (False).
        thing_ids: contiguous ids of thing classes. Leave it ``None``: the model's ``set_dataset_meta``
            fills it from the dataset's ``is_thing`` (``DatasetMetaHook`` in a run, ``init_model`` for
            inference); a value set here wins.
        postprocess_before_inference: resize masks to the original size before inference
            (official: on whenever panoptic or instance results are asked for).
        chunk_elements: bound on the full-resolution work (``max(Q, K) x H x W`` values at the original
            size ``H x W``): above it (CPU tensors), the masks stay at the model's resolution and the results
            are computed in bands of rows of at most this many values (:mod:`.chunked`: same results, see
            there for the exact sense); ``sem_seg`` is then the ``[H, W]`` int64 class map, not ``[K, H, W]``
            scores. ``0`` computes every image in one piece.
        instance_masks: ``"dense"`` (default): ``instances["masks"] [N, H, W]`` bool, one mask per
            instance. ``"by_query"``: instead ``instances["query_masks"] [U, H, W]`` (one mask per query
            that has an instance: the classes of one query share its mask) and ``instances["mask_index"]
            [N]`` (instance ``i``'s mask is ``query_masks[mask_index[i]]``); ``tools/infer.py`` asks for it
            (the quick start's 99 instances of a 4000x3000 photo come from 30 queries: 0.36 GB, not 1.2 GB).
    """

    def __init__(
        self,
        *,
        semantic_on: bool = True,
        instance_on: bool = False,
        panoptic_on: bool = False,
        object_mask_threshold: float = 0.8,
        overlap_threshold: float = 0.8,
        topk_per_image: int = 100,
        instance_matrix_nms_sigma: Optional[float] = None,
        panoptic_intersect_mask: bool = True,
        thing_ids: Optional[Sequence[int]] = None,
        postprocess_before_inference: Optional[bool] = None,
        chunk_elements: int = 2**23,
        instance_masks: Literal["dense", "by_query"] = "dense",
    ) -> None:
        if not (semantic_on or instance_on or panoptic_on):
            raise ValueError("MaskFormerInference: enable at least one of semantic_on, instance_on, panoptic_on.")
        self.semantic_on, self.instance_on, self.panoptic_on = semantic_on, instance_on, panoptic_on
        self.object_mask_threshold = object_mask_threshold
        self.overlap_threshold = overlap_threshold
        self.topk_per_image = topk_per_image
        if instance_matrix_nms_sigma is not None and not instance_matrix_nms_sigma > 0:
            raise ValueError(f"instance_matrix_nms_sigma must be > 0 or None (no NMS), got {instance_matrix_nms_sigma}")
        self.instance_matrix_nms_sigma = instance_matrix_nms_sigma
        self.panoptic_intersect_mask = panoptic_intersect_mask
        self.thing_ids = None if thing_ids is None else list(thing_ids)
        if postprocess_before_inference is None:
            postprocess_before_inference = panoptic_on or instance_on
        self.postprocess_before_inference = postprocess_before_inference
        if isinstance(chunk_elements, bool) or not isinstance(chunk_elements, int) or chunk_elements < 0:
            raise ValueError(f"chunk_elements must be an int >= 0 (0: no chunking), got {chunk_elements!r}")
        self.chunk_elements = chunk_elements
        if instance_masks not in ("dense", "by_query"):
            raise ValueError(f"instance_masks must be 'dense' or 'by_query', got {instance_masks!r}")
        self.instance_masks = instance_masks

    def _thing_ids(self) -> list[int]:
        if self.thing_ids is not None:
            return self.thing_ids
        raise ValueError(
            "Panoptic/instance inference must know which classes are things; they come from the dataset's "
            "metainfo (is_thing) through model.set_dataset_meta: keep dict(type='DatasetMetaHook') in the "
            "config's default_hooks (configs/_base_/default_runtime.py), build the model with "
            "segformers.apis.init_model, or set model.postprocessor.thing_ids=[...]."
        )

    def __call__(self, mask_cls: Tensor, mask_pred: Tensor, metainfo: dict) -> dict:
        """``mask_cls [Q,K+1]``, ``mask_pred [Q,h,w]`` logits of the padded input.

        Masks of another size than ``metainfo["batch_input_shape"]`` (the padded input size, e.g. the
        decoder's low-resolution logits) are first resized to it bilinearly, as in the official code."""
        pad_shape = metainfo.get("batch_input_shape")
        to_pad = pad_shape is not None and tuple(mask_pred.shape[-2:]) != tuple(pad_shape)
        padded_hw = tuple(pad_shape) if to_pad else tuple(mask_pred.shape[-2:])
        img_shape = metainfo.get("img_shape", padded_hw)
        ori_shape = metainfo.get("ori_shape", img_shape)
        if self.postprocess_before_inference and self._chunked(self._channels(mask_cls), mask_pred, ori_shape):
            return self._banded(mask_cls, mask_pred, padded_hw if to_pad else None, img_shape, ori_shape)
        if to_pad:
            mask_pred = F.interpolate(mask_pred[None], size=padded_hw, mode="bilinear", align_corners=False)[0]
        if self.postprocess_before_inference:
            mask_pred = resize_to_original(mask_pred, img_shape, ori_shape)
        mask_cls = mask_cls.float()
        mask_pred = mask_pred.float()
        result: dict = {}
        if self.semantic_on:
            sem = semantic_inference(mask_cls, mask_pred)
            if not self.postprocess_before_inference:
                sem = self._semantic_to_original(sem, img_shape, ori_shape)
            result["sem_seg"] = sem
        if self.panoptic_on:
            result["panoptic_seg"] = panoptic_inference(
                mask_cls, mask_pred, thing_ids=self._thing_ids(),
                object_mask_threshold=self.object_mask_threshold,
                overlap_threshold=self.overlap_threshold,
                intersect_with_mask=self.panoptic_intersect_mask,
            )
        if self.instance_on:
            things = self._thing_ids() if self.panoptic_on else None
            result["instances"] = instance_inference(
                mask_cls, mask_pred, topk=self.topk_per_image, thing_ids=things,
                matrix_nms_sigma=self.instance_matrix_nms_sigma,
            )
            if self.instance_masks == "by_query":
                result["instances"] = masks_by_query(result["instances"])
        return result

    def _channels(self, mask_cls: Tensor) -> int:
        """Maps per pixel at the original size: the queries' or the classes' (the larger)."""
        return max(mask_cls.shape[0], mask_cls.shape[-1])

    def _chunked(self, channels: int, maps: Tensor, ori_shape: Sequence[int]) -> bool:
        """Whether ``channels x H x W`` values at the original size exceed ``chunk_elements`` (CPU maps only:
        :mod:`.banded` reproduces torch's CPU kernel)."""
        size = channels * int(ori_shape[0]) * int(ori_shape[1])
        return self.chunk_elements > 0 and maps.device.type == "cpu" and size > self.chunk_elements

    def _semantic_to_original(self, sem: Tensor, img_shape: Sequence[int], ori_shape: Sequence[int]) -> Tensor:
        """``[K, h, w]`` scores at the padded size -> ``[K, H, W]`` scores, or above ``chunk_elements`` the
        ``[H, W]`` class map (argmax of the same resized scores, band by band)."""
        if not self._chunked(sem.shape[0], sem, ori_shape):
            return resize_to_original(sem, img_shape, ori_shape)
        resize = BandedResize(sem, [(img_shape, ori_shape)])
        part = SemanticBands(resize.out_hw, None)
        return run_bands(resize, {"sem_seg": part}, self.chunk_elements, sem.shape[0])["sem_seg"]

    def _banded(self, mask_cls: Tensor, mask_pred: Tensor, pad_hw: Optional[tuple[int, int]],
                img_shape: Sequence[int], ori_shape: Sequence[int]) -> dict:
        """The results at the original size computed in bands of rows (:mod:`.chunked`); ``pad_hw``: the
        padded input size the logits are first resized to (``None``: they are at it)."""
        steps = []
        if pad_hw is not None and mask_pred.dtype == torch.float32:
            steps.append((tuple(mask_pred.shape[-2:]), pad_hw))
        elif pad_hw is not None:  # the one-piece code resizes in the logits' dtype: so does this
            mask_pred = F.interpolate(mask_pred[None], size=pad_hw, mode="bilinear", align_corners=False)[0]
        mask_cls, mask_pred = mask_cls.float(), mask_pred.float()
        resize = BandedResize(mask_pred, steps + [(tuple(img_shape), tuple(ori_shape))])
        out_hw, parts = resize.out_hw, {}
        if self.semantic_on:
            parts["sem_seg"] = SemanticBands(out_hw, mask_cls)
        if self.panoptic_on:
            parts["panoptic_seg"] = PanopticBands(
                out_hw, mask_cls, thing_ids=self._thing_ids(), object_mask_threshold=self.object_mask_threshold,
                overlap_threshold=self.overlap_threshold, intersect_with_mask=self.panoptic_intersect_mask)
        if self.instance_on:
            parts["instances"] = InstanceBands(
                out_hw, mask_cls, topk=self.topk_per_image, thing_ids=self._thing_ids() if self.panoptic_on else None,
                matrix_nms_sigma=self.instance_matrix_nms_sigma, by_query=self.instance_masks == "by_query")
        return run_bands(resize, parts, self.chunk_elements, self._channels(mask_cls))
