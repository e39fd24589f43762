"""Mapillary Vistas v1.2 (65 evaluated classes; 37 things): semantic and panoptic.

Layout under ``data_root`` (``mapillary_vistas/``), as Mask2Former / MaskFormer read it::

    {training,validation}/images/*.jpg
    {training,validation}/labels/*.png            # v1.2 class ids 0..64, 65 = unlabeled (ignored)
    {training,validation}/panoptic/panoptic_2018.json + panoptic/*.png

Unlike the other datasets the ignore value is **65** (the "Unlabeled" class), not 255.
"""
from __future__ import annotations

from segformers.registry import DATASETS

from .base import metainfo_from_categories
from .categories import parse_categories
from .coco import CocoPanopticDataset
from .custom import CustomSemanticDataset

MAPILLARY_IGNORE_INDEX = 65

# Dataset id (panoptic JSON), thing flag, colour and readable name; contiguous id = id - 1.
MAPILLARY_CATEGORIES = parse_categories(
    """
1 1 165,42,42 Bird
2 1 0,192,0 Ground Animal
3 0 196,196,196 Curb
4 0 190,153,153 Fence
5 0 180,165,180 Guard Rail
6 0 90,120,150 Barrier
7 0 102,102,156 Wall
8 0 128,64,255 Bike Lane
9 1 140,140,200 Crosswalk - Plain
10 0 170,170,170 Curb Cut
11 0 250,170,160 Parking
12 0 96,96,96 Pedestrian Area
13 0 230,150,140 Rail Track
14 0 128,64,128 Road
15 0 110,110,110 Service Lane
16 0 244,35,232 Sidewalk
17 0 150,100,100 Bridge
18 0 70,70,70 Building
19 0 150,120,90 Tunnel
20 1 220,20,60 Person
21 1 255,0,0 Bicyclist
22 1 255,0,100 Motorcyclist
23 1 255,0,200 Other Rider
24 1 200,128,128 Lane Marking - Crosswalk
25 0 255,255,255 Lane Marking - General
26 0 64,170,64 Mountain
27 0 230,160,50 Sand
28 0 70,130,180 Sky
29 0 190,255,255 Snow
30 0 152,251,152 Terrain
31 0 107,142,35 Vegetation
32 0 0,170,30 Water
33 1 255,255,128 Banner
34 1 250,0,30 Bench
35 1 100,140,180 Bike Rack
36 1 220,220,220 Billboard
37 1 220,128,128 Catch Basin
38 1 222,40,40 CCTV Camera
39 1 100,170,30 Fire Hydrant
40 1 40,40,40 Junction Box
41 1 33,33,33 Mailbox
42 1 100,128,160 Manhole
43 1 142,0,0 Phone Booth
44 0 70,100,150 Pothole
45 1 210,170,100 Street Light
46 1 153,153,153 Pole
47 1 128,128,128 Traffic Sign Frame
48 1 0,0,80 Utility Pole
49 1 250,170,30 Traffic Light
50 1 192,192,192 Traffic Sign (Back)
51 1 220,220,0 Traffic Sign (Front)
52 1 140,140,20 Trash Can
53 1 119,11,32 Bicycle
54 1 150,0,255 Boat
55 1 0,60,100 Bus
56 1 0,0,142 Car
57 1 0,0,90 Caravan
58 1 0,0,230 Motorcycle
59 0 0,80,100 On Rails
60 1 128,64,64 Other Vehicle
61 1 0,0,110 Trailer
62 1 0,0,70 Truck
63 1 0,0,192 Wheeled Slow
64 0 32,32,32 Car Mount
65 0 120,10,10 Ego Vehicle
"""
)


@DATASETS.register_module()
class MapillaryDataset(CustomSemanticDataset):
    """Mapillary Vistas semantic: ``images/*.jpg`` + ``labels/*.png`` (ids 0..64, 65 ignored)."""

    METAINFO = metainfo_from_categories(MAPILLARY_CATEGORIES)
    DEFAULT_PREFIX = dict(img_path="training/images", seg_map_path="training/labels")

    def __init__(self, ignore_index: int = MAPILLARY_IGNORE_INDEX, **kwargs) -> None:
        super().__init__(ignore_index=ignore_index, **kwargs)


@DATASETS.register_module()
class MapillaryPanopticDataset(CocoPanopticDataset):
    """Mapillary Vistas panoptic: ``panoptic/panoptic_2018.json`` + PNGs (COCO panoptic format).

    The JSON categories (ids 1..65, ``isthing``) define classes and thing flags; void is ignored
    with index 65 in the derived ``gt_sem_seg``.
    """

    METAINFO = metainfo_from_categories(MAPILLARY_CATEGORIES)
    DEFAULT_PREFIX = dict(img_path="training/images", pan_seg_path="training/panoptic")

    def __init__(
        self, ann_file: str = "training/panoptic/panoptic_2018.json",
        ignore_index: int = MAPILLARY_IGNORE_INDEX, **kwargs,
    ) -> None:
        super().__init__(ann_file=ann_file, ignore_index=ignore_index, **kwargs)
