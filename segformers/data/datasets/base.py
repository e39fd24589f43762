"""The dataset base class shared by every segformers dataset, and its metadata rules.

Every dataset turns its on-disk format into one *record* per image (a plain dict, see
``docs/datasets.md``) that :class:`~segformers.data.transforms.LoadSegAnnotations` understands:

* ``img_path`` (and ``height``/``width``/``img_id`` when the annotation file knows them);
* semantic: ``seg_map_path`` + ``reduce_zero_label`` + ``label_map`` (raw value -> class id);
* panoptic: ``pan_seg_path`` + ``segments_info`` (``id``, ``category_id``, ``label``, ``iscrowd``,
  ``isthing``) — Cityscapes instance uses the same keys with its ``instanceIds`` PNG;
* instance: ``instances`` (``id``, ``label``, ``category_id``, ``iscrowd``, ``segmentation``);
* always ``ignore_index``, ``num_classes`` and ``ann_file`` (for error messages).

The dataset ``metainfo`` always holds ``classes``, ``is_thing``, ``thing_classes``,
``stuff_classes``, ``palette``, ``category_ids`` (original category id per contiguous id, ``None`` for
semantic datasets) and ``ignore_index``.
"""
from __future__ import annotations

import json
import os.path as osp
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional, Union

import numpy as np
from mmengine.dataset import BaseDataset, Compose

from segformers.registry import TRANSFORMS

from .categories import Category


def default_palette(num_classes: int) -> list[list[int]]:
    """A deterministic palette of ``num_classes`` distinct-looking RGB colours."""
    rng = np.random.RandomState(2)
    return rng.randint(0, 256, size=(num_classes, 3)).tolist()


def metainfo_from_categories(categories: Sequence[Category]) -> dict:
    """Dataset metainfo (classes, thing flags, palette, original ids) from a category table."""
    return dict(
        classes=tuple(c.name for c in categories),
        is_thing=tuple(bool(c.is_thing) for c in categories),
        palette=[list(c.color) for c in categories],
        category_ids=tuple(int(c.id) for c in categories),
    )


def load_metainfo_file(path: str) -> dict:
    """Read a metainfo JSON file: ``classes`` (required), ``palette``, ``thing_classes``."""
    meta = load_json(path, "metainfo file")
    if not isinstance(meta, dict) or "classes" not in meta:
        raise ValueError(f"metainfo file {path} must be a JSON object with a 'classes' list")
    return meta


def load_json(path: str, what: str = "annotation file") -> Any:
    """Read a JSON file; a missing or malformed file raises an error naming it."""
    if not osp.isfile(path):
        raise FileNotFoundError(f"{what} {path} does not exist")
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f"{what} {path} is not valid JSON: {err}") from err


def complete_metainfo(meta: dict, ignore_index: int, source: str) -> dict:
    """Fill ``is_thing`` / ``thing_classes`` / ``stuff_classes`` / ``palette`` consistently.

    ``is_thing`` may be given directly or through ``thing_classes`` (names); without either every
    class is a thing. A palette whose length differs from the classes is replaced by
    :func:`default_palette`. ``source`` names the dataset or file in error messages.
    """
    classes = tuple(meta.get("classes", ()))
    if len(set(classes)) != len(classes):
        raise ValueError(f"{source}: class names must be unique, got {list(classes)}")
    is_thing = meta.get("is_thing")
    if is_thing is None or len(is_thing) != len(classes):
        things = meta.get("thing_classes")
        if things is None:
            is_thing = (True,) * len(classes)
        else:
            unknown = [t for t in things if t not in classes]
            if unknown:
                raise ValueError(f"{source}: thing_classes {unknown} are not in classes")
            is_thing = tuple(c in set(things) for c in classes)
    is_thing = tuple(bool(t) for t in is_thing)
    palette = meta.get("palette")
    if palette is None or len(palette) != len(classes):
        palette = default_palette(len(classes))
    meta.update(
        classes=classes,
        is_thing=is_thing,
        thing_classes=tuple(c for c, t in zip(classes, is_thing) if t),
        stuff_classes=tuple(c for c, t in zip(classes, is_thing) if not t),
        palette=[[int(v) for v in color] for color in palette],
        ignore_index=ignore_index,
    )
    meta.setdefault("category_ids", None)
    return meta


def build_pipeline(pipeline: Sequence[Union[dict, Callable]]) -> Compose:
    """``Compose`` of transforms built from segformers' ``TRANSFORMS`` (no default scope needed)."""
    return Compose([TRANSFORMS.build(t) if isinstance(t, Mapping) else t for t in pipeline])


class BaseSegDataset(BaseDataset):
    """mmengine ``BaseDataset`` with segformers' metadata rules and transform registry.

    Args (beyond mmengine's ``ann_file``, ``data_root``, ``data_prefix``, ``filter_cfg``,
    ``indices``, ``serialize_data``, ``pipeline``, ``test_mode``, ``lazy_init``, ``max_refetch``):
        metainfo: overrides of the class ``METAINFO`` (``classes``, ``palette``, ``thing_classes``
            or ``is_thing``).
        metainfo_file: a JSON file with the same keys (relative to ``data_root``); ``metainfo``
            wins over it.
        ignore_index: the label of ignored pixels in semantic maps (255).
    """

    METAINFO: dict = dict(classes=(), is_thing=(), palette=[])
    DEFAULT_PREFIX: dict = dict(img_path="")
    # COCO-style datasets take their classes from the annotation file: user metainfo is applied
    # to those (in ``_set_categories``) rather than to the class ``METAINFO``.
    CLASSES_FROM_ANN_FILE: bool = False

    def __init__(
        self,
        ann_file: str = "",
        metainfo: Optional[Mapping] = None,
        metainfo_file: Optional[str] = None,
        data_root: str = "",
        data_prefix: Optional[dict] = None,
        filter_cfg: Optional[dict] = None,
        indices: Optional[Union[int, Sequence[int]]] = None,
        serialize_data: bool = True,
        pipeline: Sequence[Union[dict, Callable]] = (),
        test_mode: bool = False,
        lazy_init: bool = False,
        max_refetch: int = 1000,
        ignore_index: int = 255,
    ) -> None:
        self.ignore_index = ignore_index
        merged: dict[str, Any] = {}
        if metainfo_file:
            path = metainfo_file if osp.isabs(metainfo_file) else osp.join(data_root or "", metainfo_file)
            merged.update(load_metainfo_file(path))
        merged.update(dict(metainfo or {}))
        self._user_metainfo = dict(merged)
        prefix = dict(self.DEFAULT_PREFIX)
        prefix.update(data_prefix or {})
        super().__init__(
            ann_file=ann_file,
            metainfo=None if self.CLASSES_FROM_ANN_FILE else merged,
            data_root=data_root,
            data_prefix=prefix,
            filter_cfg=filter_cfg,
            indices=indices,
            serialize_data=serialize_data,
            pipeline=[],
            test_mode=test_mode,
            lazy_init=True,
            max_refetch=max_refetch,
        )
        if "thing_classes" in merged and "is_thing" not in merged and not self.CLASSES_FROM_ANN_FILE:
            self._metainfo.pop("is_thing", None)
        self._metainfo = complete_metainfo(self._metainfo, ignore_index, type(self).__name__)
        self.pipeline = build_pipeline(pipeline)
        if not lazy_init:
            self.full_init()

    @property
    def num_classes(self) -> int:
        """Number of contiguous classes K (labels are in ``[0, K)``)."""
        return len(self._metainfo["classes"])

    def _base_record(self, img_path: str) -> dict:
        """The keys every record carries."""
        return dict(
            img_path=img_path,
            ignore_index=self.ignore_index,
            num_classes=self.num_classes,
            ann_file=self.ann_file or None,
        )

    def _set_categories(self, metainfo: dict) -> None:
        """Replace the class metadata (from an annotation file); a user palette / thing flags win."""
        meta = dict(metainfo)
        user = self._user_metainfo
        special = ("classes", "palette", "is_thing", "thing_classes")
        meta.update({k: v for k, v in user.items() if k not in special})
        user_classes = user.get("classes")
        if user_classes is not None and tuple(user_classes) != tuple(meta["classes"]):
            raise ValueError(
                f"{type(self).__name__}: metainfo classes {list(user_classes)} disagree with the "
                f"categories of {self.ann_file}: {list(meta['classes'])}. The annotation file defines "
                "the classes of COCO-style datasets; drop 'classes' from metainfo."
            )
        if "palette" in user:
            meta["palette"] = user["palette"]
        if "is_thing" in user:
            meta["is_thing"] = user["is_thing"]
        elif "thing_classes" in user:
            meta["is_thing"] = None
            meta["thing_classes"] = user["thing_classes"]
        self._metainfo.update(meta)
        self._metainfo = complete_metainfo(self._metainfo, self.ignore_index, str(self.ann_file))

    def filter_data(self) -> list[dict]:
        """Drop records without non-crowd segments when ``filter_cfg.filter_empty_gt`` (training only)."""
        if self.test_mode or not (self.filter_cfg or {}).get("filter_empty_gt", False):
            return self.data_list
        return [r for r in self.data_list if has_segments(r)]


def has_segments(record: dict) -> bool:
    """Whether a panoptic / instance record lists at least one non-crowd segment.

    Semantic records cannot tell without reading their PNG and always count as non-empty.
    """
    if "instances" in record:
        return any(not inst["iscrowd"] for inst in record["instances"])
    if "segments_info" in record and "pan_seg_path" in record:
        return any(not seg["iscrowd"] for seg in record["segments_info"])
    return True
