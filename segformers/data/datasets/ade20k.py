"""ADE20K (SceneParsing, 150 classes): semantic, and panoptic / instance from Mask2Former's scripts.

Layout under ``data_root`` (``ADEChallengeData2016/``)::

    images/{training,validation}/*.jpg
    annotations/{training,validation}/*.png        # 0 = other (ignored), 1..150 = classes
    ade20k_panoptic_{train,val}.json + ade20k_panoptic_{train,val}/   # prepare_ade20k_pan_seg.py
    ade20k_instance_{train,val}.json                                  # prepare_ade20k_ins_seg.py
"""
from __future__ import annotations

from segformers.registry import DATASETS

from .base import metainfo_from_categories
from .categories import ADE20K_CATEGORIES, ADE20K_INSTANCE_CATEGORIES
from .coco import CocoInstanceDataset, CocoPanopticDataset
from .custom import CustomSemanticDataset


@DATASETS.register_module()
class ADE20KDataset(CustomSemanticDataset):
    """ADE20K semantic: 150 classes, ``reduce_zero_label=True`` (0 -> 255, v -> v - 1).

    Reading ``annotations_detectron2/`` (already shifted by ``prepare_ade20k_sem_seg.py``) works
    with ``reduce_zero_label=False``.
    """

    METAINFO = metainfo_from_categories(ADE20K_CATEGORIES)
    DEFAULT_PREFIX = dict(img_path="images/training", seg_map_path="annotations/training")

    def __init__(self, reduce_zero_label: bool = True, **kwargs) -> None:
        super().__init__(reduce_zero_label=reduce_zero_label, **kwargs)


@DATASETS.register_module()
class ADE20KPanopticDataset(CocoPanopticDataset):
    """ADE20K panoptic in COCO panoptic format (150 categories, original ids 0..149)."""

    METAINFO = metainfo_from_categories(ADE20K_CATEGORIES)
    DEFAULT_PREFIX = dict(img_path="images/training", pan_seg_path="ade20k_panoptic_train")

    def __init__(self, ann_file: str = "ade20k_panoptic_train.json", **kwargs) -> None:
        super().__init__(ann_file=ann_file, **kwargs)


@DATASETS.register_module()
class ADE20KInstanceDataset(CocoInstanceDataset):
    """ADE20K instance in COCO format (100 thing categories, RLE masks)."""

    METAINFO = metainfo_from_categories(ADE20K_INSTANCE_CATEGORIES)
    DEFAULT_PREFIX = dict(img_path="images/training")

    def __init__(self, ann_file: str = "ade20k_instance_train.json", **kwargs) -> None:
        super().__init__(ann_file=ann_file, **kwargs)
