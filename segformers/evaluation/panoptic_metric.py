"""Panoptic quality (PQ, SQ, RQ for all classes, things and stuff, and per class).

Per data sample it reads

* ``pred['panoptic_seg'] = (id_map, segments_info)``: ``[H, W]`` int32 segment ids (0 = void) and one
  dict ``{"id", "isthing", "category_id"}`` per segment, ``category_id`` contiguous in ``[0, K)``;
* ``gt_panoptic``: a dict ``{"pan_seg": [H, W] int, "segments_info": [{"id", "label", "iscrowd",
  ...}]}`` (``label`` = contiguous class; without it ``category_id`` must be contiguous; ``id_map``
  is accepted for ``pan_seg``, and so is the prediction's 2-tuple form), id 0 = void/unlabeled, at the
  original image size.

Matching follows the COCO panopticapi ``pq_compute`` rules exactly: a prediction and a non-crowd ground
truth segment of the same class match when IoU > 0.5, where the union leaves out the prediction's
overlap with void; unmatched non-crowd ground truth segments are false negatives; an unmatched
prediction is a false positive unless more than half of it lies on void plus the crowd region of its
class. Ground-truth areas are counted on the id map (panopticapi reads them from its JSON, which holds
the same counts). Each image yields a ``[K, 4]`` array ``(tp, fp, fn, iou_sum)``.

Thing / stuff classes come from ``dataset_meta['is_thing']`` (K bools) or ``['thing_classes']`` (names,
a subset of ``classes``), else from the ``isthing`` flags of the segments seen during evaluation
(ground truth over prediction).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from torch import Tensor

from ..registry import METRICS
from .utils import (as_dict, check_same_size, class_names, format_table, prediction, require,
                    resolve_num_classes, unpack_panoptic)

VOID = 0
TP, FP, FN, IOU = 0, 1, 2, 3


def _pair_counts(gt_map: Tensor, pred_map: Tensor) -> dict[tuple[int, int], int]:
    """Pixel counts of every (ground truth id, predicted id) pair present in the image."""
    if int(gt_map.min()) < 0 or int(pred_map.min()) < 0:
        raise ValueError("Panoptic id maps must hold ids >= 0 (0 = void); found a negative id.")
    offset = int(pred_map.max()) + 1
    joint = gt_map.reshape(-1).to(pred_map.device) * offset + pred_map.reshape(-1)
    values, counts = torch.unique(joint, return_counts=True)
    return {(v // offset, v % offset): c for v, c in zip(values.tolist(), counts.tolist())}


def _pred_areas(pred_map: Tensor, segments: dict[int, dict], num_classes: int) -> dict[int, int]:
    """Area of every predicted segment, with panopticapi's consistency checks."""
    ids, counts = torch.unique(pred_map, return_counts=True)
    areas = {i: c for i, c in zip(ids.tolist(), counts.tolist()) if i != VOID}
    for seg_id, seg in segments.items():
        if not 0 <= int(seg["category_id"]) < num_classes:
            raise ValueError(f"Predicted segment {seg_id} has category_id {seg['category_id']} outside [0, {num_classes}).")
    missing = sorted(set(areas) - set(segments))
    empty = sorted(set(segments) - set(areas))
    if missing or empty:
        raise ValueError(
            f"Predicted panoptic segments are inconsistent: ids {missing} are in the id map but not in "
            f"segments_info, ids {empty} are in segments_info but cover no pixel. Every non-zero id "
            f"must appear exactly once in segments_info."
        )
    return areas


def pq_image_stats(
    pred_map: Tensor, pred_segments: list[dict], gt_map: Tensor, gt_segments: list[dict], num_classes: int
) -> np.ndarray:
    """``[K, 4]`` float64 ``(tp, fp, fn, iou_sum)`` of one image (COCO panopticapi rules)."""
    pred_segs = {int(s["id"]): s for s in pred_segments}
    gt_segs = {int(s["id"]): s for s in gt_segments}
    pred_area = _pred_areas(pred_map, pred_segs, num_classes)
    for seg_id, seg in gt_segs.items():
        if not 0 <= int(seg["category_id"]) < num_classes:
            raise ValueError(
                f"Ground-truth segment {seg_id} has category_id {seg['category_id']} outside [0, {num_classes}); "
                f"gt_panoptic must use contiguous category ids."
            )
    pairs = _pair_counts(gt_map, pred_map)
    gt_area: dict[int, int] = {}
    for (g, _), c in pairs.items():
        gt_area[g] = gt_area.get(g, 0) + c
    stats = np.zeros((num_classes, 4), dtype=np.float64)
    gt_matched, pred_matched = set(), set()
    for (g, p), inter in pairs.items():
        if g not in gt_segs or p not in pred_segs or int(gt_segs[g].get("iscrowd", 0)) == 1:
            continue
        cat = int(gt_segs[g]["category_id"])
        if cat != int(pred_segs[p]["category_id"]):
            continue
        union = pred_area[p] + gt_area.get(g, 0) - inter - pairs.get((VOID, p), 0)
        iou = inter / union
        if iou > 0.5:
            stats[cat, TP] += 1
            stats[cat, IOU] += iou
            gt_matched.add(g)
            pred_matched.add(p)
    crowd_of_class: dict[int, int] = {}
    for g, seg in gt_segs.items():
        if g in gt_matched:
            continue
        if int(seg.get("iscrowd", 0)) == 1:
            crowd_of_class[int(seg["category_id"])] = g
            continue
        stats[int(seg["category_id"]), FN] += 1
    for p, seg in pred_segs.items():
        if p in pred_matched:
            continue
        cat = int(seg["category_id"])
        ignored = pairs.get((VOID, p), 0)
        if cat in crowd_of_class:
            ignored += pairs.get((crowd_of_class[cat], p), 0)
        if ignored / pred_area[p] > 0.5:
            continue
        stats[cat, FP] += 1
    return stats


def pq_average(stats: np.ndarray, select: np.ndarray) -> dict[str, float]:
    """Mean PQ / SQ / RQ over the selected classes that occur (tp + fp + fn > 0); 0 if none does."""
    tp, fp, fn, iou = stats[:, TP], stats[:, FP], stats[:, FN], stats[:, IOU]
    valid = select & (tp + fp + fn > 0)
    n = int(valid.sum())
    if n == 0:
        return {"PQ": 0.0, "SQ": 0.0, "RQ": 0.0, "n": 0}
    denom = tp[valid] + 0.5 * fp[valid] + 0.5 * fn[valid]
    sq = np.where(tp[valid] > 0, iou[valid] / np.maximum(tp[valid], 1), 0.0)
    return {
        "PQ": 100 * float(np.sum(iou[valid] / denom) / n),
        "SQ": 100 * float(np.sum(sq) / n),
        "RQ": 100 * float(np.sum(tp[valid] / denom) / n),
        "n": n,
    }


@METRICS.register_module()
class PanopticMetric(BaseMetric):
    """PQ, SQ, RQ (percent) overall (``PQ``), for things (``PQ_th``) and stuff (``PQ_st``).

    Args:
        num_classes: K; defaults to ``len(dataset_meta['classes'])``.
        classwise: also return ``PQ-<class>``, ``SQ-<class>``, ``RQ-<class>`` (the table is always logged).
        collect_device, prefix, collect_dir: as in mmengine's ``BaseMetric`` (prefix ``panoptic_seg``).
    """

    default_prefix: Optional[str] = "panoptic_seg"

    def __init__(
        self,
        num_classes: Optional[int] = None,
        classwise: bool = False,
        collect_device: str = "cpu",
        prefix: Optional[str] = None,
        collect_dir: Optional[str] = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.num_classes = num_classes
        self.classwise = classwise

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Add ``(stats [K, 4], isthing flags [K])`` per sample to ``self.results``."""
        name = type(self).__name__
        k = resolve_num_classes(self.num_classes, self.dataset_meta, name)
        for raw in data_samples:
            sample = as_dict(raw)
            pred_map, pred_segs = unpack_panoptic(prediction(sample, "panoptic_seg", name), "pred['panoptic_seg']")
            gt_map, gt_segs = unpack_panoptic(require(sample, "gt_panoptic", name), "gt_panoptic")
            check_same_size(pred_map, gt_map, sample, name)
            stats = pq_image_stats(pred_map, pred_segs, gt_map, gt_segs, k)
            isthing = np.full(k, -1, dtype=np.int8)
            for seg in pred_segs + gt_segs:  # ground truth flags win
                if "isthing" in seg:
                    isthing[int(seg["category_id"])] = int(bool(seg["isthing"]))
            self.results.append((stats, isthing))

    def _thing_mask(self, num_classes: int, seen: np.ndarray) -> np.ndarray:
        meta = self.dataset_meta or {}
        if meta.get("is_thing") is not None:
            if len(meta["is_thing"]) != num_classes:
                raise ValueError(f"dataset_meta['is_thing'] has {len(meta['is_thing'])} entries for {num_classes} classes.")
            return np.array([bool(t) for t in meta["is_thing"]])
        if meta.get("thing_classes") is not None:
            names = class_names(meta, num_classes)
            unknown = set(meta["thing_classes"]) - set(names)
            if unknown:
                raise ValueError(f"dataset_meta['thing_classes'] has names not in 'classes': {sorted(unknown)}.")
            return np.array([n in set(meta["thing_classes"]) for n in names])
        return seen == 1

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Sum the per-image statistics and average them the panopticapi way."""
        stats = np.sum([r[0] for r in results], axis=0)
        seen = np.max(np.stack([r[1] for r in results]), axis=0)
        k = stats.shape[0]
        things = self._thing_mask(k, seen)
        out: dict[str, float] = {}
        for suffix, select in (("", np.ones(k, bool)), ("_th", things), ("_st", ~things)):
            avg = pq_average(stats, select)
            out.update({f"{m}{suffix}": avg[m] for m in ("PQ", "SQ", "RQ")})
        names = class_names(self.dataset_meta, k)
        rows = []
        for c in range(k):
            one = pq_average(stats, np.arange(k) == c)
            rows.append([names[c], "thing" if things[c] else "stuff", one["PQ"], one["SQ"], one["RQ"]])
            if self.classwise:
                out.update({f"{m}-{names[c]}": one[m] for m in ("PQ", "SQ", "RQ")})
        print_log("\n" + format_table(["class", "kind", "PQ", "SQ", "RQ"], rows), logger="current")
        return out
