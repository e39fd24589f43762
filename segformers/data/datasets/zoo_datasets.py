"""Datasets only the model zoo needs (MaskFormer's ADE20K-Full and COCO-Stuff-10K, Mapillary Vistas).

Importing this module registers them in ``DATASETS``; their base configs also import them through
``custom_imports``.
"""
from .ade20k_full import ADE20KFullDataset
from .coco_stuff import CocoStuff10kDataset
from .mapillary import MapillaryDataset, MapillaryPanopticDataset

__all__ = ["ADE20KFullDataset", "CocoStuff10kDataset", "MapillaryDataset", "MapillaryPanopticDataset"]
