"""Evaluation metrics (registered in ``METRICS``; mmengine ``BaseMetric``s, distributed-safe).

What a metric reads from each data sample (a ``SegDataSample`` or the dict mmengine's ``Evaluator``
makes of it with ``to_dict()``; tensors may be on any device). Everything is at the ORIGINAL image
size (metainfo ``ori_shape``), class ids are contiguous in ``[0, K)``.

Predictions, ``sample.pred`` (a dict):

* ``sem_seg``: ``[K, H, W]`` float scores (argmax is taken) or an ``[H, W]`` integer label map;
* ``panoptic_seg``: ``(id_map, segments_info)``: ``[H, W]`` int32 ids, 0 = void, and one
  ``{"id": int, "isthing": bool, "category_id": int}`` per non-zero id in the map (no empty segments);
* ``instances``: ``{"scores": [N] float, "labels": [N] int64, "masks": [N, H, W] bool}``.

Ground truth and metainfo:

* ``gt_sem_seg``: ``[H, W]`` (or ``[1, H, W]``) int64, ``ignore_index`` (255) for unlabeled pixels;
* ``gt_panoptic``: ``{"pan_seg": [H, W] int, "segments_info": [{"id", "label", "category_id",
  "iscrowd", "isthing"}]}``, id 0 = void, ``label`` contiguous (``category_id`` may be the dataset's
  original id when ``label`` is present); a 2-tuple ``(id_map, segments_info)`` is accepted too;
* ``img_id`` (COCO image id, for ``CocoInstanceMetric``), ``img_path`` (Cityscapes file stem).

``dataset_meta`` keys used: ``classes`` (K names, contiguous order) everywhere; ``is_thing`` (K bools) or
``thing_classes`` (names) by ``PanopticMetric``; ``cat_ids`` (the original dataset id of each contiguous
label) by ``CocoInstanceMetric``.

Metrics and their keys (all percentages; prefix in brackets):
``SemSegMetric`` [sem_seg] mIoU, fwIoU, mACC, pACC; ``PanopticMetric`` [panoptic_seg] PQ, SQ, RQ,
PQ_th, ..., RQ_st; ``CocoInstanceMetric`` [segm] AP, AP50, AP75, APs, APm, APl (with ``boundary_ap=True``
also AP_boundary, ..., APl_boundary: Boundary AP, :mod:`.boundary_ap`);
``CityscapesSemSegMetric`` / ``CityscapesInstanceMetric`` / ``CityscapesPanopticMetric`` [cityscapes].
"""
from .cityscapes_metrics import CityscapesInstanceMetric, CityscapesPanopticMetric, CityscapesSemSegMetric
from .coco_metric import CocoInstanceMetric
from .panoptic_metric import PanopticMetric
from .sem_seg_metric import SemSegMetric

__all__ = [
    "SemSegMetric",
    "PanopticMetric",
    "CocoInstanceMetric",
    "CityscapesSemSegMetric",
    "CityscapesInstanceMetric",
    "CityscapesPanopticMetric",
]
