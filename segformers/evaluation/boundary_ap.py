"""Boundary AP (Cheng et al. 2021, "Boundary IoU"), the AP^boundary of Mask2Former's COCO instance tables.

The boundary of a mask is the band of its pixels within ``d`` pixels of its contour, where
``d = max(1, round(dilation_ratio * image diagonal))`` (official evaluation: ``dilation_ratio=0.02``) and the
image border counts as contour. A detection matches a ground-truth instance by
``min(mask IoU, boundary IoU)``; crowd instances keep the mask IoU. Everything else (thresholds, area
ranges, 100 detections, 101-point precision) is pycocotools' ``COCOeval`` with ``iouType="segm"``, so with a
dilation that covers whole masks (every pixel is boundary) Boundary AP equals mask AP.
"""
from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
import pycocotools.mask as mask_util
from pycocotools.cocoeval import COCOeval


def mask_to_boundary(mask: np.ndarray, dilation_ratio: float = 0.02) -> np.ndarray:
    """``[H, W]`` binary mask -> uint8 ``[H, W]``: its pixels within ``d`` (Chebyshev) of a non-mask pixel or
    of the image border, ``d = max(1, round(dilation_ratio * sqrt(H^2 + W^2)))``."""
    mask = np.asarray(mask).astype(np.uint8)
    h, w = mask.shape
    d = max(1, int(round(dilation_ratio * math.hypot(h, w))))
    out = np.zeros_like(mask)
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return out
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = mask[y0:y1, x0:x1]
    # d erosions by 3x3 = one by (2d+1)^2; all outside the mask's box (and the image) is background
    inner = cv2.erode(crop, np.ones((2 * d + 1, 2 * d + 1), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    out[y0:y1, x0:x1] = crop - inner
    return out


def boundary_rle(rle: dict, dilation_ratio: float) -> dict:
    """The boundary (:func:`mask_to_boundary`) of an RLE mask, as an RLE."""
    boundary = mask_to_boundary(mask_util.decode(rle), dilation_ratio)
    return mask_util.encode(np.asfortranarray(boundary))


class BoundaryCOCOeval(COCOeval):
    """``COCOeval(iouType="segm")`` whose IoU is Boundary AP's: ``min(mask IoU, boundary IoU)`` against
    non-crowd ground truth, the mask IoU against crowd regions. Boundaries are computed once per annotation."""

    def __init__(self, coco_gt: Any, coco_dt: Any, dilation_ratio: float = 0.02) -> None:
        if not dilation_ratio > 0:
            raise ValueError(f"dilation_ratio must be > 0 (official 0.02), got {dilation_ratio}")
        super().__init__(coco_gt, coco_dt, iouType="segm")
        self.dilation_ratio = dilation_ratio
        self._boundaries: dict[tuple[str, int], dict] = {}

    def _boundary(self, kind: str, ann: dict) -> dict:
        key = (kind, ann["id"])
        if key not in self._boundaries:
            self._boundaries[key] = boundary_rle(ann["segmentation"], self.dilation_ratio)
        return self._boundaries[key]

    def _scored_pairs(self, img_id: int, cat_id: int) -> tuple[list[dict], list[dict]]:
        """Ground truth and detections of one image (and category) in the order ``COCOeval.computeIoU``
        uses them: detections by descending score, at most ``maxDets[-1]``."""
        p = self.params
        cat_ids = [cat_id] if p.useCats else p.catIds
        gt = [g for c in cat_ids for g in self._gts[img_id, c]]
        dt = [d for c in cat_ids for d in self._dts[img_id, c]]
        order = np.argsort([-d["score"] for d in dt], kind="mergesort")
        return gt, [dt[i] for i in order][: p.maxDets[-1]]

    def computeIoU(self, imgId: int, catId: int) -> Any:  # noqa: N802, N803 (pycocotools' names)
        """``[D, G]`` IoUs for matching: the mask IoU, lowered to the boundary IoU where that is smaller."""
        mask_ious = super().computeIoU(imgId, catId)
        if len(mask_ious) == 0:
            return mask_ious
        gt, dt = self._scored_pairs(imgId, catId)
        crowd = [int(g["iscrowd"]) for g in gt]
        boundary_ious = np.asarray(mask_util.iou([self._boundary("dt", d) for d in dt],
                                                 [self._boundary("gt", g) for g in gt], crowd))
        ious = np.array(mask_ious, dtype=np.float64)
        plain = ~np.asarray(crowd, dtype=bool)
        ious[:, plain] = np.minimum(ious[:, plain], boundary_ious[:, plain])
        return ious
