"""The custom semantic format: a folder of images and a folder of single-channel PNG label maps."""
from __future__ import annotations

import os
import os.path as osp
from typing import Optional

from segformers.registry import DATASETS

from .base import BaseSegDataset


def scan_files(root: str, suffix: str) -> list[str]:
    """Paths relative to ``root`` of every file ending with ``suffix`` (recursive, sorted)."""
    if not osp.isdir(root):
        raise FileNotFoundError(f"image folder {root} does not exist")
    found = []
    for dirpath, _, files in os.walk(root, followlinks=True):
        rel = osp.relpath(dirpath, root)
        found += [osp.normpath(osp.join(rel, f)) for f in files if f.endswith(suffix)]
    return sorted(found)


@DATASETS.register_module()
class CustomSemanticDataset(BaseSegDataset):
    """Semantic segmentation: ``<img_path>/<name><img_suffix>`` + ``<seg_map_path>/<name><seg_map_suffix>``.

    ``name`` may contain sub-folders. Label maps are single-channel PNGs whose values are class
    ids ``0..K-1`` and ``ignore_index`` (255); with ``reduce_zero_label`` 0 means "unlabelled"
    and ids are 1-based. Class names / palette come from ``metainfo`` or ``metainfo_file``
    (a JSON ``{"classes": [...], "palette": [[r, g, b], ...], "thing_classes": [...]}``).

    Args:
        img_suffix / seg_map_suffix: file endings that pair an image with its label map.
        reduce_zero_label: map 0 -> ignore, v -> v - 1 when reading the PNGs.
        label_map: raw PNG value -> class id, applied after ``reduce_zero_label``.
        ann_file: optional text file listing the ``name``s to use, one per line.
        data_prefix: ``dict(img_path='images', seg_map_path='annotations')`` by default.
    """

    DEFAULT_PREFIX = dict(img_path="images", seg_map_path="annotations")

    def __init__(
        self,
        img_suffix: str = ".jpg",
        seg_map_suffix: str = ".png",
        reduce_zero_label: bool = False,
        label_map: Optional[dict] = None,
        **kwargs,
    ) -> None:
        self.img_suffix = img_suffix
        self.seg_map_suffix = seg_map_suffix
        self.reduce_zero_label = reduce_zero_label
        self.label_map = {int(k): int(v) for k, v in (label_map or {}).items()}
        super().__init__(**kwargs)

    def _names(self) -> list[str]:
        img_dir = self.data_prefix["img_path"]
        if self.ann_file:
            if not osp.isfile(self.ann_file):
                raise FileNotFoundError(f"split file {self.ann_file} does not exist")
            with open(self.ann_file) as f:
                return [line.strip() for line in f if line.strip()]
        names = [p[: -len(self.img_suffix)] for p in scan_files(img_dir, self.img_suffix)]
        if not names:
            raise FileNotFoundError(f"no '*{self.img_suffix}' images under {img_dir}")
        return names

    def load_data_list(self) -> list[dict]:
        """One record per image: ``img_path``, ``seg_map_path``, label policy keys."""
        img_dir = self.data_prefix["img_path"]
        seg_dir = self.data_prefix.get("seg_map_path")
        records = []
        for name in self._names():
            record = self._base_record(osp.join(img_dir, name + self.img_suffix))
            if seg_dir:
                record["seg_map_path"] = osp.join(seg_dir, name + self.seg_map_suffix)
            record.update(reduce_zero_label=self.reduce_zero_label, label_map=self.label_map or None)
            records.append(record)
        return records
