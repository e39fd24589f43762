"""Cityscapes semantic / instance / panoptic with the conventions of ``cityscapesscripts``.

Layout under ``data_root`` (``cityscapes/``)::

    leftImg8bit/{train,val}/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    gtFine/{train,val}/<city>/<...>_gtFine_{labelIds,labelTrainIds,instanceIds}.png
    gtFine/cityscapes_panoptic_{train,val}.json + gtFine/cityscapes_panoptic_{train,val}/
                                              # (cityscapesscripts' createPanopticImgs.py)

Classes are the 19 evaluated labels in ``trainId`` order (8 things); the instance task uses the
8 thing classes in label-id order.
"""
from __future__ import annotations

import os.path as osp

from cityscapesscripts.helpers.labels import labels as CS_LABELS

from segformers.registry import DATASETS

from .base import BaseSegDataset, metainfo_from_categories
from .categories import Category
from .coco import CocoPanopticDataset
from .custom import CustomSemanticDataset, scan_files

CITYSCAPES_CATEGORIES = tuple(
    Category(l.id, l.hasInstances, tuple(l.color), l.name)
    for l in sorted((l for l in CS_LABELS if not l.ignoreInEval), key=lambda l: l.trainId)
)
CITYSCAPES_INSTANCE_CATEGORIES = tuple(c for c in CITYSCAPES_CATEGORIES if c.is_thing)

# labelIds -> trainIds (255 = ignored), over every label id a labelIds PNG can hold (0..33)
LABEL_ID_TO_TRAIN_ID = {
    l.id: (l.trainId if l.trainId not in (-1, 255) else 255) for l in CS_LABELS if l.id >= 0
}
# thing label id -> contiguous instance class
THING_ID_TO_LABEL = {c.id: i for i, c in enumerate(CITYSCAPES_INSTANCE_CATEGORIES)}

IMG_SUFFIX = "_leftImg8bit.png"


@DATASETS.register_module()
class CityscapesDataset(CustomSemanticDataset):
    """Cityscapes semantic: 19 classes; ``*_gtFine_labelIds.png`` mapped to trainIds on reading.

    With ``seg_map_suffix='_gtFine_labelTrainIds.png'`` (``createTrainIdLabelImgs.py`` output, what
    detectron2 reads) no mapping is applied.
    """

    METAINFO = metainfo_from_categories(CITYSCAPES_CATEGORIES)
    DEFAULT_PREFIX = dict(img_path="leftImg8bit/train", seg_map_path="gtFine/train")

    def __init__(self, seg_map_suffix: str = "_gtFine_labelIds.png", **kwargs) -> None:
        if "label_map" not in kwargs and "labelTrainIds" not in seg_map_suffix:
            kwargs["label_map"] = LABEL_ID_TO_TRAIN_ID
        kwargs.setdefault("img_suffix", IMG_SUFFIX)
        super().__init__(seg_map_suffix=seg_map_suffix, **kwargs)


@DATASETS.register_module()
class CityscapesInstanceDataset(BaseSegDataset):
    """Cityscapes instance (8 thing classes) from ``*_gtFine_instanceIds.png``.

    Pixel value ``v >= 1000`` is an instance of label id ``v // 1000``; a thing label id below
    1000 marks a crowd ("group") region, which gives no mask; stuff and void are not segments.
    Records carry ``pan_seg_path`` (the instanceIds PNG) and ``instance_label_map``.
    """

    METAINFO = metainfo_from_categories(CITYSCAPES_INSTANCE_CATEGORIES)
    DEFAULT_PREFIX = dict(img_path="leftImg8bit/train", seg_map_path="gtFine/train")

    def load_data_list(self) -> list[dict]:
        """One record per image found under ``img_path``."""
        img_dir, gt_dir = self.data_prefix["img_path"], self.data_prefix["seg_map_path"]
        names = [p[: -len(IMG_SUFFIX)] for p in scan_files(img_dir, IMG_SUFFIX)]
        if not names:
            raise FileNotFoundError(f"no '*{IMG_SUFFIX}' images under {img_dir}")
        records = []
        for name in names:
            record = self._base_record(osp.join(img_dir, name + IMG_SUFFIX))
            record.update(
                img_id=osp.basename(name),
                pan_seg_path=osp.join(gt_dir, name + "_gtFine_instanceIds.png"),
                instance_label_map=dict(THING_ID_TO_LABEL),
            )
            records.append(record)
        return records


@DATASETS.register_module()
class CityscapesPanopticDataset(CocoPanopticDataset):
    """Cityscapes panoptic from ``createPanopticImgs.py`` (category ids = label ids -> trainIds).

    Images are found by the annotation's ``image_id`` under ``img_path`` (the JSON ``file_name``
    of the images is not a real file name).
    """

    METAINFO = metainfo_from_categories(CITYSCAPES_CATEGORIES)
    DEFAULT_PREFIX = dict(img_path="leftImg8bit/train", pan_seg_path="gtFine/cityscapes_panoptic_train")

    def __init__(self, ann_file: str = "gtFine/cityscapes_panoptic_train.json", **kwargs) -> None:
        self._image_index: dict[str, str] = {}
        super().__init__(ann_file=ann_file, **kwargs)

    def _image_path(self, image: dict, ann: dict) -> str:
        img_dir = self.data_prefix["img_path"]
        if not self._image_index:
            found = scan_files(img_dir, IMG_SUFFIX)
            self._image_index = {osp.basename(p)[: -len(IMG_SUFFIX)]: osp.join(img_dir, p) for p in found}
        path = self._image_index.get(str(ann["image_id"]))
        if path is None:
            raise FileNotFoundError(
                f"no image {ann['image_id']}{IMG_SUFFIX} under {img_dir} for annotation {ann['file_name']} "
                f"of {self.ann_file}"
            )
        return path
