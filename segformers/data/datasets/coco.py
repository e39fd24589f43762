"""COCO-format datasets: panoptic (PNG + JSON) and instance (JSON with polygons / RLE).

The JSON ``categories`` define the classes: contiguous id = index of the category after sorting
by original id (detectron2's rule), ``isthing`` gives the thing flags (panoptic; every instance
category is a thing) and ``color``, when present, the palette. Users' own COCO-style data uses these
classes directly (``docs/datasets.md``).
"""
from __future__ import annotations

import os.path as osp
from collections import defaultdict

from segformers.registry import DATASETS

from .base import BaseSegDataset, default_palette, load_json, metainfo_from_categories
from .categories import COCO_INSTANCE_CATEGORIES, COCO_PANOPTIC_CATEGORIES


def categories_metainfo(categories: list[dict], ann_file: str, default_thing: bool) -> tuple[dict, dict]:
    """(metainfo, original id -> contiguous id) from JSON ``categories`` sorted by id."""
    if not categories:
        raise ValueError(f"annotation file {ann_file} has no 'categories'")
    cats = sorted(categories, key=lambda c: c["id"])
    ids = [int(c["id"]) for c in cats]
    if len(set(ids)) != len(ids):
        raise ValueError(f"annotation file {ann_file} repeats category ids: {ids}")
    has_colors = all("color" in c for c in cats)
    palette = [list(c["color"]) for c in cats] if has_colors else default_palette(len(cats))
    meta = dict(
        classes=tuple(str(c["name"]) for c in cats),
        is_thing=tuple(bool(c.get("isthing", default_thing)) for c in cats),
        palette=palette,
        category_ids=tuple(ids),
    )
    return meta, {cid: i for i, cid in enumerate(ids)}


def _contiguous(cat_id: int, id_map: dict, ann_file: str, where: str) -> int:
    if cat_id not in id_map:
        raise ValueError(f"{where} in {ann_file} has category_id {cat_id}, which is not in its categories")
    return id_map[cat_id]


@DATASETS.register_module()
class CocoPanopticDataset(BaseSegDataset):
    """COCO panoptic: ``annotations/panoptic_*.json`` + ``panoptic_*/`` PNGs (``rgb2id``).

    Every record keeps ``segments_info`` entries ``dict(id, category_id, label, iscrowd,
    isthing)`` (``label`` = contiguous id; ``category_id`` = original). Crowd segments give no
    training mask (their pixels are neither a segment nor ignored in ``gt_sem_seg``, which takes
    their class, as Mask2Former's semantic conversion does). ``filter_cfg=dict(filter_empty_gt=True)``
    drops images without non-crowd segments in training.

    Args:
        img_suffix: image extension used when the JSON has no ``images`` entry for an annotation.
    """

    METAINFO = metainfo_from_categories(COCO_PANOPTIC_CATEGORIES)
    DEFAULT_PREFIX = dict(img_path="train2017/", pan_seg_path="panoptic_train2017/")
    CLASSES_FROM_ANN_FILE = True

    def __init__(
        self, ann_file: str = "annotations/panoptic_train2017.json", img_suffix: str = ".jpg", **kwargs
    ) -> None:
        self.img_suffix = img_suffix
        super().__init__(ann_file=ann_file, **kwargs)

    def _image_path(self, image: dict, ann: dict) -> str:
        name = image.get("file_name") or osp.splitext(ann["file_name"])[0] + self.img_suffix
        return osp.join(self.data_prefix["img_path"], name)

    def load_data_list(self) -> list[dict]:
        """One record per JSON annotation, in file order."""
        data = load_json(self.ann_file)
        meta, id_map = categories_metainfo(data.get("categories", []), self.ann_file, default_thing=False)
        self._set_categories(meta)
        images = {img["id"]: img for img in data.get("images", [])}
        records = []
        for ann in data.get("annotations", []):
            if "file_name" not in ann or "segments_info" not in ann:
                raise ValueError(
                    f"annotation of image {ann.get('image_id')} in {self.ann_file} "
                    "lacks file_name / segments_info"
                )
            image = images.get(ann["image_id"], {})
            record = self._base_record(self._image_path(image, ann))
            record.update(
                img_id=ann["image_id"],
                pan_seg_path=osp.join(self.data_prefix["pan_seg_path"], ann["file_name"]),
                segments_info=self._segments(ann, id_map, meta["is_thing"]),
            )
            if "height" in image and "width" in image:
                record.update(height=int(image["height"]), width=int(image["width"]))
            records.append(record)
        if not records:
            raise ValueError(f"annotation file {self.ann_file} has no annotations")
        return records

    def _segments(self, ann: dict, id_map: dict, is_thing: tuple) -> list[dict]:
        """``segments_info`` with the contiguous ``label`` next to the original ``category_id``."""
        segments = []
        for seg in ann["segments_info"]:
            where = f"segment {seg.get('id')} of image {ann['image_id']}"
            label = _contiguous(int(seg["category_id"]), id_map, self.ann_file, where)
            segments.append(
                dict(
                    id=int(seg["id"]),
                    category_id=int(seg["category_id"]),
                    label=label,
                    iscrowd=int(seg.get("iscrowd", 0)),
                    isthing=is_thing[label],
                )
            )
        return segments


@DATASETS.register_module()
class CocoInstanceDataset(BaseSegDataset):
    """COCO instance: ``annotations/instances_*.json`` with polygon or RLE ``segmentation``.

    Records keep ``instances`` entries ``dict(id, label, category_id, iscrowd, segmentation)``;
    crowd instances are kept in the record (for evaluation) but never become training masks.
    Polygons with fewer than 3 points are dropped as detectron2 does, and so is an annotation
    left with none. ``filter_cfg=dict(filter_empty_gt=True)`` drops images without non-crowd
    instances in training (``DATALOADER.FILTER_EMPTY_ANNOTATIONS``).
    """

    METAINFO = metainfo_from_categories(COCO_INSTANCE_CATEGORIES)
    DEFAULT_PREFIX = dict(img_path="train2017/")
    CLASSES_FROM_ANN_FILE = True

    def __init__(self, ann_file: str = "annotations/instances_train2017.json", **kwargs) -> None:
        super().__init__(ann_file=ann_file, **kwargs)

    def load_data_list(self) -> list[dict]:
        """One record per JSON image, sorted by image id."""
        data = load_json(self.ann_file)
        meta, id_map = categories_metainfo(data.get("categories", []), self.ann_file, default_thing=True)
        self._set_categories(meta)
        per_image = defaultdict(list)
        for ann in data.get("annotations", []):
            where = f"annotation {ann.get('id')}"
            if "segmentation" not in ann:
                raise ValueError(f"{where} in {self.ann_file} has no 'segmentation'")
            segm = ann["segmentation"]
            if isinstance(segm, list):
                segm = [p for p in segm if len(p) % 2 == 0 and len(p) >= 6]
                if not segm:
                    continue
            per_image[ann["image_id"]].append(
                dict(
                    id=int(ann["id"]),
                    label=_contiguous(int(ann["category_id"]), id_map, self.ann_file, where),
                    category_id=int(ann["category_id"]),
                    iscrowd=int(ann.get("iscrowd", 0)),
                    segmentation=segm,
                )
            )
        images = sorted(data.get("images", []), key=lambda im: im["id"])
        known = {im["id"] for im in images}
        orphans = [i for i in per_image if i not in known]
        if orphans:
            raise ValueError(
                f"annotation file {self.ann_file} annotates image ids {orphans[:5]} absent from 'images'"
            )
        records = []
        for image in images:
            record = self._base_record(osp.join(self.data_prefix["img_path"], image["file_name"]))
            record.update(
                img_id=image["id"],
                height=int(image["height"]),
                width=int(image["width"]),
                instances=per_image.get(image["id"], []),
            )
            records.append(record)
        if not records:
            raise ValueError(f"annotation file {self.ann_file} lists no images")
        return records
