"""COCO-Stuff-10K (171 classes: 80 things + 91 stuff), semantic, as MaskFormer prepares it.

Layout under ``data_root`` (``coco/coco_stuff_10k/``, written by MaskFormer's
``prepare_coco_stuff_10k_sem_seg.py``)::

    images_detectron2/{train,test}/*.jpg
    annotations_detectron2/{train,test}/*.png     # contiguous ids 0..170, 255 = unlabelled

Contiguous id = position of the COCO-Stuff category (ids 1..182, 11 unused) sorted by id.
"""
from __future__ import annotations

from segformers.registry import DATASETS

from .base import default_palette, metainfo_from_categories
from .categories import COCO_INSTANCE_CATEGORIES, Category
from .custom import CustomSemanticDataset

# COCO-Stuff stuff categories 92..182, in id order.
_STUFF_NAMES = """
banner blanket branch bridge building-other bush cabinet cage cardboard carpet ceiling-other
ceiling-tile cloth clothes clouds counter cupboard curtain desk-stuff dirt door-stuff fence
floor-marble floor-other floor-stone floor-tile floor-wood flower fog food-other fruit
furniture-other grass gravel ground-other hill house leaves light mat metal mirror-stuff moss
mountain mud napkin net paper pavement pillow plant-other plastic platform playingfield railing
railroad river road rock roof rug salad sand sea shelf sky-other skyscraper snow solid-other
stairs stone straw structural-other table tent textile-other towel tree vegetable wall-brick
wall-concrete wall-other wall-panel wall-stone wall-tile wall-wood water-other waterdrops
window-blind window-other wood
""".split()

_STUFF_COLORS = default_palette(len(_STUFF_NAMES))
COCO_STUFF_CATEGORIES = COCO_INSTANCE_CATEGORIES + tuple(
    Category(92 + i, False, tuple(color), name)  # type: ignore[arg-type]
    for i, (name, color) in enumerate(zip(_STUFF_NAMES, _STUFF_COLORS))
)


@DATASETS.register_module()
class CocoStuff10kDataset(CustomSemanticDataset):
    """COCO-Stuff-10K semantic: 171 classes, labels already contiguous (255 ignored)."""

    METAINFO = metainfo_from_categories(COCO_STUFF_CATEGORIES)
    DEFAULT_PREFIX = dict(img_path="images_detectron2/train", seg_map_path="annotations_detectron2/train")
