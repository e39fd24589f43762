"""The last pipeline step: results dict -> ``{"inputs": Tensor, "data_samples": SegDataSample}``."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from segformers.registry import TRANSFORMS
from segformers.structures import SegDataSample, Targets

from .base import BaseTransform
from .checks import check_labels

DEFAULT_META_KEYS = (
    "img_path",
    "img_id",
    "seg_map_path",
    "pan_seg_path",
    "ori_shape",
    "img_shape",
    "scale_factor",
    "flip",
    "flip_direction",
    "sample_idx",
)


def segment_targets(results: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One binary mask per segment from whichever targets the results hold.

    Priority: instance masks (``gt_masks``) > panoptic segments (``gt_pan_seg``: one mask per
    non-crowd entry of ``segments_info``) > semantic classes (``gt_sem_seg``: one mask per class
    present, ``ignore_index`` excluded). Returns ``labels`` int64 ``[N]``, ``masks`` bool
    ``[N, H, W]`` and ``segment_ids`` int64 ``[N]`` (instance / segment ids; the class id for
    semantic targets).
    """
    if "gt_masks" in results:
        masks = results["gt_masks"].astype(bool)
        return results["gt_labels"].astype(np.int64), masks, results["gt_seg_ids"].astype(np.int64)
    if "gt_pan_seg" in results:
        pan = results["gt_pan_seg"]
        segments = [s for s in results.get("segments_info", []) if not s["iscrowd"]]
        ids = np.array([s["id"] for s in segments], dtype=np.int64)
        labels = np.array([s["label"] for s in segments], dtype=np.int64)
        return labels, pan[None] == ids[:, None, None], ids
    if "gt_sem_seg" in results:
        sem = results["gt_sem_seg"]
        classes = np.unique(sem)
        classes = classes[classes != results.get("ignore_index", 255)].astype(np.int64)
        return classes, sem[None] == classes[:, None, None], classes
    h, w = results["img"].shape[:2]
    empty = np.zeros((0,), dtype=np.int64)
    return empty, np.zeros((0, h, w), dtype=bool), empty


def packed_segment(seg: dict) -> dict:
    """A record's segment as the metrics read it: contiguous ``category_id``, original id kept aside."""
    return dict(
        id=int(seg["id"]),
        category_id=int(seg["label"]),
        iscrowd=int(seg["iscrowd"]),
        isthing=bool(seg["isthing"]),
        dataset_category_id=int(seg["category_id"]),
    )


@TRANSFORMS.register_module()
class PackSegInputs(BaseTransform):
    """Pack the results into ``inputs`` (uint8 ``[3, H, W]`` RGB) and a :class:`SegDataSample`.

    The data sample holds ``gt = Targets(labels int64 [N], masks bool [N, H, W])`` (see
    :func:`segment_targets`), ``gt_segment_ids`` int64 ``[N]``, ``gt_sem_seg`` int64 ``[H, W]``
    when the results have a semantic map, ``gt_panoptic = dict(id_map=int64 [H, W],
    segments_info=[dict(id, category_id, iscrowd, isthing, dataset_category_id)])`` when they have
    a panoptic map (``category_id`` contiguous, as the metrics expect; ``dataset_category_id`` the
    file's id), and the metainfo ``meta_keys``.

    Args:
        meta_keys: results keys copied to the metainfo when present.
        drop_empty: drop segments whose mask is empty after the transforms (e.g. cropped away).
            The official panoptic and MaskFormer instance mappers keep them; COCO LSJ instance
            drops them.
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS, drop_empty: bool = True) -> None:
        self.meta_keys = tuple(meta_keys)
        self.drop_empty = drop_empty

    def transform(self, results: dict) -> dict:
        img = results["img"]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        labels, masks, seg_ids = segment_targets(results)
        source = next(k for k in ("gt_masks", "gt_pan_seg", "gt_sem_seg", "img") if k in results)
        check_labels(labels, {"gt_masks": "gt_labels", "gt_pan_seg": "segments_info"}.get(source, source),
                     type(self).__name__)
        if self.drop_empty and len(labels):
            keep = masks.any(axis=(1, 2))
            labels, masks, seg_ids = labels[keep], masks[keep], seg_ids[keep]
        sample = SegDataSample()
        sample.gt = Targets(torch.from_numpy(labels), torch.from_numpy(np.ascontiguousarray(masks)))
        sample.gt_segment_ids = torch.from_numpy(seg_ids)
        if "gt_sem_seg" in results:
            sample.gt_sem_seg = torch.from_numpy(results["gt_sem_seg"].astype(np.int64))
        if "gt_pan_seg" in results:
            sample.gt_panoptic = dict(
                id_map=torch.from_numpy(results["gt_pan_seg"].astype(np.int64)),
                segments_info=[packed_segment(s) for s in results.get("segments_info", [])],
            )
        sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=sample)
