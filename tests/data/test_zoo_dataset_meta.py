"""ADE20K-Full carries the official 847 class names; the Mapillary Vistas panoptic loader reads its layout.

Expected values are facts of the official sources (MaskFormer's ADE20K-Full category list by training id;
Mapillary Vistas v1.2: 65 classes, 37 things, ids 1..65 in ``panoptic_2018.json``, ignore index 65), typed
in here independently of the tables in ``segformers/data/datasets``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from segformers.data.datasets.mapillary import MAPILLARY_CATEGORIES
from segformers.data.transforms.loading import id2rgb
from segformers.registry import DATASETS

LOAD = [dict(type="LoadImageFromFile"), dict(type="LoadSegAnnotations"), dict(type="PackSegInputs")]


def test_ade20k_full_has_the_official_class_names():
    meta = DATASETS.get("ADE20KFullDataset").METAINFO
    classes = meta["classes"]
    assert len(classes) == len(set(classes)) == 847 and len(meta["palette"]) == 847
    spot = {0: "wall", 1: "building, edifice", 2: "sky", 11: "person, individual, someone, somebody, mortal, soul",
            14: "car, auto, automobile, machine, motorcar", 192: "bulletin board, notice board", 500: "cat",
            832: "dumbbell", 843: "sunglasses", 846: "adding machine, totalizer, totaliser"}
    assert {i: classes[i] for i in spot} == spot
    assert not any(name.startswith("ade20k-full-") for name in classes)  # the old placeholders
    assert not any(meta["is_thing"])  # a semantic benchmark: no things


def _mapillary_panoptic(root: Path) -> tuple[np.ndarray, list[dict]]:
    """One 6x8 image: void, a Road segment (id 14), two Cars (id 56, one crowd) and the Ego Vehicle (id 65)."""
    pan = np.zeros((6, 8), np.int32)
    pan[:2] = 101  # Road (stuff)
    pan[2:4, :4] = 202  # Car
    pan[2:4, 4:] = 203  # Car, crowd
    pan[4, :5] = 304  # Ego Vehicle (stuff, the last class)
    segments = [dict(id=101, category_id=14, iscrowd=0), dict(id=202, category_id=56, iscrowd=0),
                dict(id=203, category_id=56, iscrowd=1), dict(id=304, category_id=65, iscrowd=0)]
    (root / "validation/images").mkdir(parents=True)
    (root / "validation/panoptic").mkdir(parents=True)
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(root / "validation/images/v1.jpg")
    Image.fromarray(id2rgb(pan)).save(root / "validation/panoptic/v1.png")
    categories = [dict(id=c.id, name=c.name, isthing=int(c.is_thing), color=list(c.color), supercategory="x")
                  for c in MAPILLARY_CATEGORIES]
    ann = dict(images=[dict(id="v1", file_name="v1.jpg", height=6, width=8)], categories=categories,
               annotations=[dict(image_id="v1", file_name="v1.png", segments_info=segments)])
    (root / "validation/panoptic/panoptic_2018.json").write_text(json.dumps(ann))
    return pan, segments


def test_mapillary_panoptic_loader(tmp_path):
    pan, _ = _mapillary_panoptic(tmp_path)
    ds = DATASETS.build(dict(type="MapillaryPanopticDataset", data_root=str(tmp_path),
                             ann_file="validation/panoptic/panoptic_2018.json",
                             data_prefix=dict(img_path="validation/images", pan_seg_path="validation/panoptic"),
                             test_mode=True, pipeline=LOAD))
    meta = ds.metainfo
    assert len(meta["classes"]) == 65 and sum(meta["is_thing"]) == 37 and meta["ignore_index"] == 65
    assert (meta["classes"][13], meta["classes"][55], meta["classes"][64]) == ("Road", "Car", "Ego Vehicle")
    assert meta["category_ids"] == tuple(range(1, 66))
    sample = ds[0]["data_samples"]
    # non-crowd segments become targets, with contiguous labels (dataset id - 1), in file order
    assert sample.gt.labels.tolist() == [13, 55, 64] and sample.gt_segment_ids.tolist() == [101, 202, 304]
    assert np.array_equal(sample.gt.masks.numpy(), np.stack([pan == 101, pan == 202, pan == 304]))
    sem = np.full((6, 8), 65)  # void -> the ignore index 65; the crowd Car keeps its class
    sem[:2], sem[2:4], sem[4, :5] = 13, 55, 64
    assert sample.gt_sem_seg.tolist() == sem.tolist()
    assert np.array_equal(sample.gt_panoptic["id_map"].numpy(), pan)
    info = [(s["id"], s["category_id"], s["dataset_category_id"], s["iscrowd"], s["isthing"])
            for s in sample.gt_panoptic["segments_info"]]
    assert info == [(101, 13, 14, 0, False), (202, 55, 56, 0, True), (203, 55, 56, 1, True), (304, 64, 65, 0, False)]
    assert sample.img_id == "v1"
