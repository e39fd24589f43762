"""Semantic segmentation metrics from a confusion matrix accumulated image by image.

Per data sample it reads ``pred['sem_seg']`` (``[K, H, W]`` scores, argmax is taken, or an ``[H, W]``
label map) and ``gt_sem_seg`` (``[H, W]`` int64 contiguous ids, ``ignore_index`` for unlabeled pixels),
both at the original image size. Each image contributes a ``K x K`` confusion matrix (rows: ground
truth, columns: prediction; ignored pixels dropped), so only ``K^2`` integers travel between ranks.

The scores follow detectron2's ``SemSegEvaluator`` (the evaluator behind the papers' numbers):
a class enters mIoU / mACC only if it occurs in the ground truth; fwIoU weights IoUs by ground-truth
frequency; pACC is the fraction of labeled pixels predicted correctly. All values are percentages.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from torch import Tensor

from ..registry import METRICS
from .utils import (as_dict, check_same_size, class_names, format_table, label_map, prediction,
                    require, resolve_num_classes)


def confusion_matrix(pred: Tensor, gt: Tensor, num_classes: int, ignore_index: int = 255) -> Tensor:
    """``[K, K]`` int64 counts ``C[g, p]`` of pixels with ground truth ``g`` predicted as ``p``.

    Pixels whose ground truth equals ``ignore_index`` are dropped; any other label outside ``[0, K)``
    raises, naming the label.
    """
    gt = gt.reshape(-1).to(pred.device)
    pred = pred.reshape(-1)
    keep = gt != ignore_index
    gt, pred = gt[keep], pred[keep]
    for name, t in (("ground truth", gt), ("prediction", pred)):
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= num_classes):
            bad = int(t.max()) if int(t.max()) >= num_classes else int(t.min())
            raise ValueError(
                f"The {name} holds label {bad}, outside [0, {num_classes}) and not ignore_index="
                f"{ignore_index}. Check num_classes / ignore_index, or the dataset's label mapping "
                f"(e.g. reduce_zero_label for ADE20K)."
            )
    counts = torch.bincount(gt * num_classes + pred, minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


def sem_seg_scores(conf: np.ndarray) -> dict[str, Any]:
    """mIoU, fwIoU, mACC, pACC (percent) and per-class ``IoU`` / ``ACC`` arrays (NaN if absent in GT)."""
    conf = conf.astype(np.float64)
    tp = np.diag(conf)
    pos_gt = conf.sum(axis=1)
    pos_pred = conf.sum(axis=0)
    num_classes = conf.shape[0]
    acc = np.full(num_classes, np.nan)
    iou = np.full(num_classes, np.nan)
    acc_valid = pos_gt > 0
    acc[acc_valid] = tp[acc_valid] / pos_gt[acc_valid]
    union = pos_gt + pos_pred - tp
    iou_valid = acc_valid & (union > 0)
    iou[iou_valid] = tp[iou_valid] / union[iou_valid]
    total = pos_gt.sum()
    weights = pos_gt / total if total > 0 else np.zeros(num_classes)
    nan = float("nan")
    return {
        "mIoU": 100 * float(iou[iou_valid].mean()) if iou_valid.any() else nan,
        "fwIoU": 100 * float((iou[iou_valid] * weights[iou_valid]).sum()) if iou_valid.any() else nan,
        "mACC": 100 * float(acc[acc_valid].mean()) if acc_valid.any() else nan,
        "pACC": 100 * float(tp.sum() / total) if total > 0 else nan,
        "IoU": 100 * iou,
        "ACC": 100 * acc,
    }


@METRICS.register_module()
class SemSegMetric(BaseMetric):
    """mIoU, fwIoU, mACC, pACC (percent) and a per-class table, for any number of ranks.

    Args:
        num_classes: K; defaults to ``len(dataset_meta['classes'])``.
        ignore_index: ground-truth value of unlabeled pixels.
        classwise: also return ``IoU-<class>`` and ``ACC-<class>`` entries (the table is always logged).
        collect_device, prefix, collect_dir: as in mmengine's ``BaseMetric`` (prefix ``sem_seg``).
    """

    default_prefix: Optional[str] = "sem_seg"

    def __init__(
        self,
        num_classes: Optional[int] = None,
        ignore_index: int = 255,
        classwise: bool = False,
        collect_device: str = "cpu",
        prefix: Optional[str] = None,
        collect_dir: Optional[str] = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.classwise = classwise

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Add one confusion matrix per sample to ``self.results``."""
        k = resolve_num_classes(self.num_classes, self.dataset_meta, type(self).__name__)
        for raw in data_samples:
            sample = as_dict(raw)
            pred = label_map(prediction(sample, "sem_seg", type(self).__name__), "pred['sem_seg']")
            gt = label_map(require(sample, "gt_sem_seg", type(self).__name__), "gt_sem_seg")
            check_same_size(pred, gt, sample, type(self).__name__)
            self.results.append(confusion_matrix(pred, gt, k, self.ignore_index).cpu().numpy())

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Sum the confusion matrices, log the per-class table, return the summary scores."""
        conf = np.sum(np.stack(results), axis=0)
        scores = sem_seg_scores(conf)
        names = class_names(self.dataset_meta, conf.shape[0])
        rows = [[n, float(i), float(a)] for n, i, a in zip(names, scores["IoU"], scores["ACC"])]
        print_log("\n" + format_table(["class", "IoU", "ACC"], rows), logger="current")
        out = {k: scores[k] for k in ("mIoU", "fwIoU", "mACC", "pACC")}
        if self.classwise:
            for n, i, a in zip(names, scores["IoU"], scores["ACC"]):
                out[f"IoU-{n}"], out[f"ACC-{n}"] = float(i), float(a)
        return out
