"""Write toy scenes (:mod:`segformers.data.toy.scene`) in the real datasets' layouts.

``write_toy_dataset(out_dir)`` produces::

    metainfo.json                                        # classes, thing_classes, palette (custom format)
    ade/images/{training,validation}/toy_<split>_<i>.jpg
    ade/annotations/{training,validation}/toy_<split>_<i>.png       # 0 = void, 1..8 = classes
    coco/{train,val}2017/<image_id:012d>.jpg
    coco/panoptic_{train,val}2017/<image_id:012d>.png + coco/annotations/panoptic_{train,val}2017.json
    coco/annotations/instances_{train,val}2017.json      # polygons (unoccluded), RLE (occluded, crowd)
    cityscapes/leftImg8bit/{train,val}/toycity/toycity_000000_<i>_leftImg8bit.png
    cityscapes/gtFine/{train,val}/toycity/..._gtFine_{labelIds,labelTrainIds,instanceIds}.png
    cityscapes/gtFine/cityscapes_panoptic_{train,val}.json + cityscapes_panoptic_{train,val}/

Toy class ``k`` has COCO category id ``k + 1``; in the Cityscapes layout the toy classes stand
for the Cityscapes labels of :data:`TOY_TO_CITYSCAPES` (road, sidewalk, building, vegetation /
person, car, truck, bicycle), so the 19-class Cityscapes loaders read them.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import os.path as osp
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Optional

import cv2
import numpy as np
import pycocotools.mask as mask_util

from ..datasets.cityscapes import LABEL_ID_TO_TRAIN_ID
from .scene import TOY_CLASSES, TOY_IS_THING, TOY_PALETTE, ToyScene, ToySegment, make_scene

LAYOUTS = ("ade", "coco", "cityscapes")
ADE_SPLITS = {"train": "training", "val": "validation"}
TOY_TO_CITYSCAPES = (7, 8, 11, 21, 24, 26, 27, 33)  # label id of each toy class
CITY = "toycity"
_TRAIN_ID_LUT = np.array([LABEL_ID_TO_TRAIN_ID[i] for i in range(34)], dtype=np.uint8)


def ade_name(split: str, index: int) -> str:
    """File stem of a scene in the ADE20K layout."""
    return f"toy_{split}_{index:05d}"


def coco_image_id(split: str, index: int) -> int:
    """COCO image id of a scene (file stem = the id on 12 digits)."""
    return (1 if split == "train" else 2) * 100000 + index


def cityscapes_name(index: int) -> str:
    """``<city>_<seq>_<frame>`` id of a scene in the Cityscapes layout."""
    return f"{CITY}_000000_{index:06d}"


def cityscapes_instance_ids(scene: ToyScene) -> np.ndarray:
    """int32 ``[H, W]`` ``instanceIds`` map: label id (stuff, crowd), label id * 1000 + k (things), 0 void."""
    out = np.zeros(scene.void.shape, dtype=np.int32)
    counters: dict[int, int] = {}
    for seg in scene.segments:
        cs_id = TOY_TO_CITYSCAPES[seg.label]
        if seg.is_thing and not seg.iscrowd:
            k = counters.get(cs_id, 0)
            counters[cs_id] = k + 1
            out[seg.mask] = cs_id * 1000 + k
        else:
            out[seg.mask] = cs_id
    return out


def _bbox(mask: np.ndarray) -> list[int]:
    """COCO ``[x, y, w, h]`` box of a non-empty mask."""
    ys, xs = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return [int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)]


def _uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's crowd encoding: run lengths over the column-major pixels, starting with zeros."""
    flat = mask.T.reshape(-1).astype(np.int8)
    change = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    return dict(size=list(mask.shape), counts=np.diff(np.concatenate([[0], change])).tolist())


def instance_annotation(seg: ToySegment, image_id: int) -> dict:
    """COCO instance annotation of a thing: polygon if unoccluded, else RLE (uncompressed for crowd)."""
    if seg.iscrowd:
        segmentation = _uncompressed_rle(seg.mask)
    elif seg.polygon is not None:
        segmentation = [seg.polygon]
    else:
        rle = mask_util.encode(np.asfortranarray(seg.mask.astype(np.uint8)))
        segmentation = dict(size=rle["size"], counts=rle["counts"].decode())
    return dict(
        id=seg.id, image_id=image_id, category_id=seg.label + 1, iscrowd=int(seg.iscrowd),
        segmentation=segmentation, area=int(seg.mask.sum()), bbox=_bbox(seg.mask),
    )  # fmt: skip


def _write(path: str, array: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, array, [cv2.IMWRITE_PNG_COMPRESSION, 1] if path.endswith(".png") else []):
        raise OSError(f"could not write {path}")


def _write_scene(
    out_dir: str, split: str, index: int, size: tuple[int, int], seed: int, layouts: Sequence[str]
) -> dict:
    """Write one scene in every layout; returns its COCO JSON entries."""
    scene = make_scene(index, split, size, seed)
    bgr = scene.image[:, :, ::-1]
    sem = scene.sem_seg()
    entries: dict = {}
    if "ade" in layouts:
        name, sub = ade_name(split, index), ADE_SPLITS[split]
        _write(osp.join(out_dir, "ade/images", sub, name + ".jpg"), bgr)
        ade_label = np.where(sem == 255, 0, sem + 1).astype(np.uint8)  # 0 = "other"
        _write(osp.join(out_dir, "ade/annotations", sub, name + ".png"), ade_label)
    if "coco" in layouts:
        image_id, stem = coco_image_id(split, index), f"{coco_image_id(split, index):012d}"
        _write(osp.join(out_dir, f"coco/{split}2017", stem + ".jpg"), bgr)
        pan = scene.pan_seg()
        rgb = np.stack([pan % 256, pan // 256 % 256, pan // 65536], -1).astype(np.uint8)
        _write(osp.join(out_dir, f"coco/panoptic_{split}2017", stem + ".png"), rgb[:, :, ::-1])
        h, w = size
        entries["image"] = dict(id=image_id, file_name=stem + ".jpg", height=h, width=w)
        segs = [
            dict(id=s.id, category_id=s.label + 1, iscrowd=int(s.iscrowd), area=int(s.mask.sum()),
                 bbox=_bbox(s.mask))
            for s in scene.segments
        ]
        entries["panoptic"] = dict(image_id=image_id, file_name=stem + ".png", segments_info=segs)
        entries["instances"] = [instance_annotation(s, image_id) for s in scene.segments if s.is_thing]
    if "cityscapes" in layouts:
        name, root = cityscapes_name(index), osp.join(out_dir, "cityscapes")
        _write(osp.join(root, "leftImg8bit", split, CITY, name + "_leftImg8bit.png"), bgr)
        label_ids = np.where(sem == 255, 0, np.take(TOY_TO_CITYSCAPES, np.minimum(sem, 7)))
        train_ids = _TRAIN_ID_LUT[label_ids]
        gt = osp.join(root, "gtFine", split, CITY, name + "_gtFine_")
        _write(gt + "labelIds.png", label_ids.astype(np.uint8))
        _write(gt + "labelTrainIds.png", train_ids)
        _write(gt + "instanceIds.png", cityscapes_instance_ids(scene).astype(np.uint16))
    return entries


def toy_categories() -> list[dict]:
    """COCO-style categories of the toy classes (ids 1..8, with colours)."""
    return [
        dict(id=i + 1, name=name, isthing=int(thing), color=TOY_PALETTE[i],
             supercategory="thing" if thing else "stuff")
        for i, (name, thing) in enumerate(zip(TOY_CLASSES, TOY_IS_THING))
    ]


def _write_coco_json(out_dir: str, split: str, entries: list[dict]) -> None:
    images = [e["image"] for e in entries]
    cats = toy_categories()
    panoptic = dict(images=images, annotations=[e["panoptic"] for e in entries], categories=cats)
    instances = dict(
        images=images,
        annotations=[a for e in entries for a in e["instances"]],
        categories=[c for c in cats if c["isthing"]],
    )
    ann_dir = osp.join(out_dir, "coco/annotations")
    os.makedirs(ann_dir, exist_ok=True)
    for name, data in ((f"panoptic_{split}2017.json", panoptic), (f"instances_{split}2017.json", instances)):
        with open(osp.join(ann_dir, name), "w") as f:
            json.dump(data, f)


def write_toy_dataset(
    out_dir: str,
    num_train: int = 300,
    num_val: int = 50,
    size: tuple[int, int] = (128, 128),
    seed: int = 0,
    layouts: Sequence[str] = LAYOUTS,
    workers: Optional[int] = None,
) -> dict:
    """Generate the toy dataset under ``out_dir`` in ``layouts``; returns a summary dict."""
    unknown = set(layouts) - set(LAYOUTS)
    if unknown:
        raise ValueError(f"unknown layouts {sorted(unknown)}; choose from {LAYOUTS}")
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    os.makedirs(out_dir, exist_ok=True)
    meta = dict(
        classes=list(TOY_CLASSES),
        thing_classes=[c for c, t in zip(TOY_CLASSES, TOY_IS_THING) if t],
        palette=TOY_PALETTE,
    )
    with open(osp.join(out_dir, "metainfo.json"), "w") as f:
        json.dump(meta, f, indent=2)
    jobs = [(s, i) for s, n in (("train", num_train), ("val", num_val)) for i in range(n)]
    args = [(out_dir, s, i, tuple(size), seed, tuple(layouts)) for s, i in jobs]
    if workers > 1 and len(jobs) > 16:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_write_scene, *zip(*args), chunksize=16))
    else:
        results = [_write_scene(*a) for a in args]
    for split in ("train", "val"):
        entries = [r for (s, _), r in zip(jobs, results) if s == split]
        if "coco" in layouts:
            _write_coco_json(out_dir, split, entries)
    if "cityscapes" in layouts:
        splits = [s for s, n in (("train", num_train), ("val", num_val)) if n]
        _write_cityscapes_panoptic(osp.join(out_dir, "cityscapes"), splits)
    return dict(out_dir=out_dir, num_train=num_train, num_val=num_val, size=tuple(size), seed=seed,
                layouts=tuple(layouts))


def _write_cityscapes_panoptic(root: str, splits: list[str]) -> None:
    """Run cityscapesscripts' ``createPanopticImgs`` conversion on the toy ``gtFine``."""
    from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic

    gt_dir = osp.join(root, "gtFine")
    with contextlib.redirect_stdout(io.StringIO()):
        convert2panoptic(cityscapesPath=gt_dir, outputFolder=gt_dir, setNames=splits)
