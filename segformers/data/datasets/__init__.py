"""Datasets (registered in ``segformers.registry.DATASETS``)."""
from .ade20k import ADE20KDataset, ADE20KInstanceDataset, ADE20KPanopticDataset
from .base import BaseSegDataset, complete_metainfo, default_palette, load_metainfo_file
from .cityscapes import CityscapesDataset, CityscapesInstanceDataset, CityscapesPanopticDataset
from .coco import CocoInstanceDataset, CocoPanopticDataset
from .custom import CustomSemanticDataset
from . import zoo_datasets  # noqa: F401  (ADE20K-Full, COCO-Stuff-10K, Mapillary Vistas)

__all__ = [
    "BaseSegDataset",
    "CustomSemanticDataset",
    "ADE20KDataset",
    "ADE20KPanopticDataset",
    "ADE20KInstanceDataset",
    "CocoPanopticDataset",
    "CocoInstanceDataset",
    "CityscapesDataset",
    "CityscapesInstanceDataset",
    "CityscapesPanopticDataset",
    "complete_metainfo",
    "default_palette",
    "load_metainfo_file",
]
