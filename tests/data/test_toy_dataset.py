"""The toy scene generator and ``tools/make_toy_dataset.py``."""
from __future__ import annotations

import filecmp
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from segformers.data.toy import TOY_IS_THING, TOY_STUFF, TOY_THINGS, make_scene, write_toy_dataset
from segformers.data.toy.layouts import instance_annotation
from segformers.data.toy.scene import MAX_TILT, rasterize_polygon
from segformers.data.transforms.loading import decode_segmentation

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scenes():
    return [make_scene(i, "train", (64, 64), seed=0) for i in range(60)]


def test_scene_is_deterministic_and_depends_on_seed_split_index():
    a, b = make_scene(5, "val", (40, 56), seed=7), make_scene(5, "val", (40, 56), seed=7)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.pan_seg(), b.pan_seg())
    assert a.image.shape == (40, 56, 3) and a.image.dtype == np.uint8
    others = [make_scene(6, "val", (40, 56), 7), make_scene(5, "train", (40, 56), 7),
              make_scene(5, "val", (40, 56), 8)]
    for other in others:
        assert not np.array_equal(a.image, other.image)


def test_segments_and_void_partition_the_image(scenes):
    for scene in scenes:
        count = scene.void.astype(int) + sum(s.mask.astype(int) for s in scene.segments)
        assert (count == 1).all()
        ids = [s.id for s in scene.segments]
        assert len(set(ids)) == len(ids) and min(ids) >= 1 and max(ids) < 2**24
        stuff_labels = [s.label for s in scene.segments if not s.is_thing]
        assert len(set(stuff_labels)) == len(stuff_labels)  # stuff merged per class
        assert all(not s.iscrowd for s in scene.segments if not s.is_thing)
        sem = scene.sem_seg()
        assert (sem[scene.void] == 255).all()
        for s in scene.segments:
            assert (sem[s.mask] == s.label).all()


def test_scenes_cover_overlap_crowd_void_and_empty_cases(scenes):
    things = [s for sc in scenes for s in sc.segments if s.is_thing]
    occluded = [s for s in things if s.polygon is None]
    assert len(occluded) >= 10  # instances overlap
    assert any(s.iscrowd for s in things)
    assert sum(sc.void.any() for sc in scenes) >= 10
    assert any(not any(s.is_thing for s in sc.segments) for sc in scenes)
    assert {s.label for s in things} == {i for i, t in enumerate(TOY_IS_THING) if t}


def test_unoccluded_polygon_rasterizes_to_the_mask(scenes):
    checked = 0
    for scene in scenes:
        for s in scene.segments:
            if s.polygon is not None:
                assert np.array_equal(rasterize_polygon(s.polygon, 64, 64), s.mask)
                checked += 1
    assert checked > 20


def test_things_are_tilted_at_most_max_tilt_from_upright(scenes):
    """A square's or cross's first outline edge points along x or y up to MAX_TILT, in both directions."""
    tilts = []
    for scene in scenes:
        for s in scene.segments:
            if s.polygon is not None and TOY_THINGS[s.label - len(TOY_STUFF)] in ("square", "cross"):
                (x0, y0, x1, y1) = s.polygon[:4]
                angle = np.degrees(np.arctan2(y1 - y0, x1 - x0))
                tilts.append((angle + 45) % 90 - 45)  # deviation from the nearest axis
    assert len(tilts) > 10
    assert max(abs(t) for t in tilts) <= np.degrees(MAX_TILT) + 0.5  # polygon vertices are rounded
    assert min(tilts) < -3 and max(tilts) > 3  # tilted both ways, not all upright


def test_thing_colour_is_independent_of_class_and_stuff_differs_by_texture():
    scenes = [make_scene(i, "train", (64, 64), seed=1) for i in range(150)]
    thing_means, stuff_means, stuff_grad = {}, {}, {}
    for scene in scenes:
        img = scene.image.astype(np.float32)
        grad = np.abs(np.diff(img.mean(-1), axis=1))
        for s in scene.segments:
            if s.mask.sum() < 30 or s.iscrowd:
                continue
            target = thing_means if s.is_thing else stuff_means
            target.setdefault(s.label, []).append(img[s.mask].mean())
            if not s.is_thing:
                stuff_grad.setdefault(s.label, []).append(grad[s.mask[:, 1:] & s.mask[:, :-1]].mean())
    thing_avg = [np.mean(v) for v in thing_means.values()]
    stuff_avg = [np.mean(v) for v in stuff_means.values()]
    assert max(thing_avg) - min(thing_avg) < 25  # colour says nothing about the shape class
    assert max(stuff_avg) - min(stuff_avg) < 20  # stuff mean colours overlap ...
    grads = sorted(np.mean(v) for v in stuff_grad.values())
    assert len(grads) == len(TOY_STUFF) and grads[-1] > 1.5 * grads[0]  # ... textures do not


def test_writer_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        write_toy_dataset(str(out), num_train=3, num_val=2, size=(32, 48), seed=1, workers=1)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 1 + 5 * 2 + (5 * 2 + 4) + (5 * 4 + 5 + 2)  # meta, ADE, COCO, Cityscapes
    mismatch = [f for f in files if not filecmp.cmp(a / f, b / f, shallow=False)]
    assert mismatch == []
    meta = json.loads((a / "metainfo.json").read_text())
    assert meta["thing_classes"] == ["disk", "square", "triangle", "cross"] and len(meta["palette"]) == 8


def test_cli_writes_every_layout(tmp_path):
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import make_toy_dataset
    finally:
        sys.path.pop(0)
    out = tmp_path / "toy"
    make_toy_dataset.main([str(out), "--num-train", "2", "--num-val", "1", "--size", "32", "40", "--workers", "1"])
    assert sorted(os.listdir(out / "ade/images/training")) == ["toy_train_00000.jpg", "toy_train_00001.jpg"]
    pan = json.loads((out / "coco/annotations/panoptic_val2017.json").read_text())
    assert len(pan["images"]) == 1 and pan["images"][0]["height"] == 32 and pan["images"][0]["width"] == 40
    assert (out / "cityscapes/gtFine/cityscapes_panoptic_train.json").is_file()


def test_instance_annotations_decode_to_the_visible_masks(scenes):
    kinds = set()
    for scene in scenes[:30]:
        for seg in scene.segments:
            if not seg.is_thing:
                continue
            ann = instance_annotation(seg, image_id=1)
            segm = ann["segmentation"]
            if isinstance(segm, list):
                kind = "polygon"
            else:
                kind = "rle-list" if isinstance(segm["counts"], list) else "rle"
            kinds.add(kind)
            assert kind == ("rle-list" if seg.iscrowd else "polygon" if seg.polygon is not None else "rle")
            assert np.array_equal(decode_segmentation(segm, 64, 64, {}), seg.mask)
            assert ann["area"] == seg.mask.sum() and ann["category_id"] == seg.label + 1
    assert kinds == {"polygon", "rle-list", "rle"}
