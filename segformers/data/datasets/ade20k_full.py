"""ADE20K-Full (847 classes), semantic, as MaskFormer prepares it.

Layout under ``data_root`` (``ADE20K_2021_17_01/``, written by MaskFormer's
``prepare_ade20k_full_sem_seg.py``)::

    images_detectron2/{training,validation}/*.jpg
    annotations_detectron2/{training,validation}/*.tif   # 16-bit, ids 0..846, 65535 = unlabelled

Class ``i`` of a label map is ``ADE20K_FULL_CLASSES[i]`` (:mod:`.ade20k_full_classes`, the official
category list in training-id order). The benchmark has no thing / stuff split (semantic only).
"""
from __future__ import annotations

from segformers.registry import DATASETS

from .ade20k_full_classes import ADE20K_FULL_CLASSES
from .base import default_palette
from .custom import CustomSemanticDataset

ADE20K_FULL_NUM_CLASSES = len(ADE20K_FULL_CLASSES)  # 847
ADE20K_FULL_IGNORE_INDEX = 65535


@DATASETS.register_module()
class ADE20KFullDataset(CustomSemanticDataset):
    """ADE20K-Full semantic: 847 classes in 16-bit TIFF label maps, ignore index 65535."""

    METAINFO = dict(
        classes=ADE20K_FULL_CLASSES,
        is_thing=(False,) * ADE20K_FULL_NUM_CLASSES,
        palette=default_palette(ADE20K_FULL_NUM_CLASSES),
    )
    DEFAULT_PREFIX = dict(img_path="images_detectron2/training", seg_map_path="annotations_detectron2/training")

    def __init__(
        self, seg_map_suffix: str = ".tif", ignore_index: int = ADE20K_FULL_IGNORE_INDEX, **kwargs
    ) -> None:
        super().__init__(seg_map_suffix=seg_map_suffix, ignore_index=ignore_index, **kwargs)
