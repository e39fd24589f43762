"""COCO mask AP through pycocotools' ``COCOeval`` (the evaluator behind the papers' instance numbers).

Per data sample it reads

* metainfo ``img_id``: the image's ``id`` in the COCO annotation file ``ann_file``; an id that is
  not one of the file's (ADE20K panoptic names images ``ADE_val_00000001`` while its instance file
  numbers them) is matched by file name: the stem of ``img_id`` or of ``img_path``;
* ``pred['instances']``: a dict with ``scores [N]`` float, ``labels [N]`` int (contiguous in ``[0, K)``)
  and ``masks [N, H, W]`` bool at the original image size (the file's ``height x width``).

Contiguous labels map to the file's category ids through ``dataset_meta['cat_ids']`` (the dataset's
original id of each contiguous label, e.g. the 133 COCO panoptic ids) when present, else through the
sorted category ids of ``ann_file`` (detectron2's mapping for COCO instance segmentation). Masks are
RLE-encoded in ``process`` so only compact strings travel between ranks. Only the processed images are
evaluated.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os.path as osp
from typing import Any, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_util
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ..registry import METRICS
from .boundary_ap import BoundaryCOCOeval
from .utils import as_dict, format_table, prediction, require, to_tensor

COCO_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl")


def encode_instances(instances: Any, name: str = "pred['instances']") -> dict[str, Any]:
    """``{"scores", "labels", "rles"}``: numpy scores/labels and compressed RLEs (str counts) per mask."""
    if not isinstance(instances, dict) or not {"scores", "labels", "masks"} <= set(instances):
        got = sorted(instances) if isinstance(instances, dict) else type(instances).__name__
        raise KeyError(f"{name} must be a dict with 'scores', 'labels' and 'masks', got {got}.")
    masks = to_tensor(instances["masks"], f"{name}['masks']")
    if masks.ndim != 3:
        raise ValueError(f"{name}['masks'] must be [N, H, W], got {tuple(masks.shape)}.")
    scores = to_tensor(instances["scores"], f"{name}['scores']").detach().float().cpu().numpy()
    labels = to_tensor(instances["labels"], f"{name}['labels']").cpu().numpy().astype(np.int64)
    if not len(scores) == len(labels) == masks.shape[0]:
        raise ValueError(f"{name}: scores, labels and masks disagree on N ({len(scores)}, {len(labels)}, {masks.shape[0]}).")
    binary = np.asfortranarray(masks.bool().cpu().numpy().transpose(1, 2, 0).astype(np.uint8))
    rles = mask_util.encode(binary) if len(scores) else []
    for rle in rles:
        rle["counts"] = rle["counts"].decode("ascii")
    return {"scores": scores, "labels": labels, "rles": list(rles), "size": tuple(masks.shape[-2:])}


def coco_mask_eval(coco_gt: COCO, detections: list[dict], img_ids: list[int], use_cats: bool = True,
                   dilation_ratio: Optional[float] = None) -> tuple[COCOeval, str]:
    """Run ``COCOeval(iouType='segm')`` on ``img_ids``; returns the evaluator and its printed summary.

    ``dilation_ratio``: Boundary AP with this dilation (:class:`~.boundary_ap.BoundaryCOCOeval`) instead.

    ``use_cats=False``: class-agnostic (pycocotools' ``useCats=0``). ``loadRes`` adds keys to the
    detection dicts in place."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        coco_dt = coco_gt.loadRes(detections)
        if dilation_ratio is None:
            evaluator = COCOeval(coco_gt, coco_dt, iouType="segm")
        else:
            evaluator = BoundaryCOCOeval(coco_gt, coco_dt, dilation_ratio)
        evaluator.params.imgIds = sorted(img_ids)
        evaluator.params.useCats = int(use_cats)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator, buffer.getvalue()


def percent_stats(evaluator: COCOeval, keys: Sequence[str]) -> dict[str, float]:
    """The first ``len(keys)`` summary stats in percent; COCOeval's -1 (no ground truth in an area range)
    becomes NaN, as detectron2 reports it."""
    return {k: 100 * float(v) if v >= 0 else float("nan") for k, v in zip(keys, evaluator.stats)}


def per_category_ap(evaluator: COCOeval) -> list[float]:
    """AP (percent) per category in ``params.catIds`` order; NaN for categories without ground truth."""
    precision = evaluator.eval["precision"]  # [T, R, K, A, M]
    out = []
    for k in range(precision.shape[2]):
        p = precision[:, :, k, 0, -1]
        p = p[p > -1]
        out.append(100 * float(np.mean(p)) if p.size else float("nan"))
    return out


@METRICS.register_module()
class CocoInstanceMetric(BaseMetric):
    """COCO mask AP, AP50, AP75, APs, APm, APl (percent) with pycocotools.

    Args:
        ann_file: COCO-format instance annotation JSON of the evaluated split.
        classwise: also return ``AP-<class>`` (the per-class table is always logged).
        boundary_ap: also evaluate Boundary AP (Mask2Former's AP^boundary; :mod:`.boundary_ap`), returned
            as ``AP_boundary``, ``AP50_boundary``, ... ``APl_boundary``. Off by default: it costs one
            erosion per mask, and the papers report it for COCO instance models only.
        dilation_ratio: the boundary width as a fraction of the image diagonal (official 0.02).
        collect_device, prefix, collect_dir: as in mmengine's ``BaseMetric`` (prefix ``segm``).
    """

    default_prefix: Optional[str] = "segm"

    def __init__(
        self,
        ann_file: str,
        classwise: bool = False,
        boundary_ap: bool = False,
        dilation_ratio: float = 0.02,
        collect_device: str = "cpu",
        prefix: Optional[str] = None,
        collect_dir: Optional[str] = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.ann_file = ann_file
        self.classwise = classwise
        if not dilation_ratio > 0:
            raise ValueError(f"CocoInstanceMetric: dilation_ratio must be > 0 (official 0.02), got {dilation_ratio}")
        self.boundary_ap = boundary_ap
        self.dilation_ratio = dilation_ratio
        self._coco: Optional[COCO] = None
        self._by_stem: Optional[dict[str, int]] = None

    @property
    def coco(self) -> COCO:
        """The ground truth, loaded once."""
        if self._coco is None:
            with contextlib.redirect_stdout(io.StringIO()):
                self._coco = COCO(self.ann_file)
        return self._coco

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """RLE-encode each sample's instances and keep them with its ``img_id``."""
        for raw in data_samples:
            sample = as_dict(raw)
            img_id = require(sample, "img_id", type(self).__name__)
            encoded = encode_instances(prediction(sample, "instances", type(self).__name__))
            encoded["img_id"] = int(img_id) if isinstance(img_id, (int, np.integer)) else str(img_id)
            encoded["img_path"] = sample.get("img_path")
            self.results.append(encoded)

    def resolve_image_id(self, record: dict) -> int:
        """The ``ann_file`` image id of a processed sample (by id, else by file-name stem)."""
        img_id = record["img_id"]
        if isinstance(img_id, str) and img_id.isdigit():
            img_id = int(img_id)
        if img_id in self.coco.imgs:
            return img_id
        if self._by_stem is None:
            self._by_stem = {osp.splitext(osp.basename(im["file_name"]))[0]: i for i, im in self.coco.imgs.items()}
        for key in (str(img_id), record.get("img_path") or ""):
            stem = osp.splitext(osp.basename(key))[0]
            if stem in self._by_stem:
                return self._by_stem[stem]
        raise KeyError(f"img_id {img_id!r} (image {record.get('img_path')}) is neither an image id nor a file name "
                       f"of {self.ann_file}: evaluate with the annotation file of the same split.")

    def label_to_category(self) -> list[int]:
        """COCO category id of each contiguous label."""
        meta = self.dataset_meta or {}
        ids = meta.get("cat_ids") if meta.get("cat_ids") is not None else meta.get("category_ids")
        return [int(i) for i in ids] if ids is not None else sorted(self.coco.getCatIds())

    def to_detections(self, results: list[dict], img_ids: list[int]) -> list[dict]:
        """COCO result records of ``results`` with their ``ann_file`` image ids; checks sizes and labels."""
        cat_ids = self.label_to_category()
        detections = []
        for r, img_id in zip(results, img_ids):
            info = self.coco.imgs[img_id]
            if r["rles"] and tuple(r["size"]) != (info["height"], info["width"]):
                raise ValueError(
                    f"Masks of image {img_id} are {tuple(r['size'])} but the image is "
                    f"{(info['height'], info['width'])}: predict at the original image size."
                )
            for score, label, rle in zip(r["scores"], r["labels"], r["rles"]):
                if not 0 <= label < len(cat_ids):
                    raise ValueError(f"Predicted label {label} has no category id ({len(cat_ids)} known).")
                detections.append(
                    {"image_id": img_id, "category_id": cat_ids[label], "segmentation": rle, "score": float(score)}
                )
        return detections

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Evaluate all collected detections; NaN everywhere when there is none."""
        img_ids = [self.resolve_image_id(r) for r in results]
        detections = self.to_detections(results, img_ids)
        keys = COCO_KEYS + tuple(f"{k}_boundary" for k in COCO_KEYS if self.boundary_ap)
        if not detections:
            print_log("CocoInstanceMetric: no predicted instances; AP is NaN.", logger="current", level=logging.WARNING)
            return {k: float("nan") for k in keys}
        evaluator, summary = coco_mask_eval(self.coco, [dict(d) for d in detections], img_ids)  # loadRes edits them
        out = percent_stats(evaluator, COCO_KEYS)
        if self.boundary_ap:
            boundary, boundary_summary = coco_mask_eval(self.coco, [dict(d) for d in detections], img_ids,
                                                        dilation_ratio=self.dilation_ratio)
            out.update(percent_stats(boundary, [f"{k}_boundary" for k in COCO_KEYS]))
            summary += f"Boundary AP (dilation ratio {self.dilation_ratio}):\n{boundary_summary}"
        names = [self.coco.cats[c]["name"] for c in evaluator.params.catIds]
        aps = per_category_ap(evaluator)
        rows = [[n, ap] for n, ap in zip(names, aps)]
        print_log("\n" + summary + format_table(["category", "AP"], rows), logger="current")
        if self.classwise:
            out.update({f"AP-{n}": ap for n, ap in zip(names, aps)})
        return out
