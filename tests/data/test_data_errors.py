"""Label policy (ignore_index, reduce_zero_label, label_map, crowd, empty images) and broken files."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from segformers.data.transforms import LoadImageFromFile, LoadSegAnnotations, PackSegInputs
from segformers.data.transforms.loading import apply_label_policy
from segformers.registry import DATASETS

LOAD = [dict(type="LoadImageFromFile"), dict(type="LoadSegAnnotations"), dict(type="PackSegInputs")]


def write_png(path, array) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)
    return str(path)


@pytest.fixture()
def folder(tmp_path):
    """A custom semantic dataset with one 6x8 image; returns (root, label path)."""
    write_png(tmp_path / "images/a.png", np.full((6, 8, 3), 90, np.uint8))
    label = np.array([[0, 1, 2, 255] * 2] * 6, dtype=np.uint8)
    return tmp_path, write_png(tmp_path / "annotations/a.png", label)


def semantic(root, **kw):
    cfg = dict(type="CustomSemanticDataset", data_root=str(root), img_suffix=".png", pipeline=LOAD,
               metainfo=dict(classes=("a", "b", "c")))
    cfg.update(kw)
    return DATASETS.build(cfg)


def test_label_policy_direct():
    raw = np.array([[0, 1, 2, 3, 255]], dtype=np.uint8)
    res = dict(ignore_index=255, num_classes=3, reduce_zero_label=True)
    assert apply_label_policy(raw, res, "x.png").tolist() == [[255, 0, 1, 2, 255]]
    res = dict(ignore_index=255, num_classes=2, label_map={3: 0, 2: 255})
    assert apply_label_policy(np.array([[0, 1, 2, 3]]), res, "x.png").tolist() == [[0, 1, 255, 0]]
    res = dict(ignore_index=9, num_classes=3, reduce_zero_label=True)  # custom ignore value
    assert apply_label_policy(np.array([[0, 9, 3]]), res, "x.png").tolist() == [[9, 9, 2]]


def test_ignore_pixels_are_in_no_mask(folder):
    sample = semantic(folder[0])[0]["data_samples"]
    sem = sample.gt_sem_seg.numpy()
    assert sample.gt.labels.tolist() == [0, 1, 2]
    assert (sem == 255).sum() == 12 and not sample.gt.masks[:, sem == 255].any()
    assert sample.gt.masks.sum().item() == 36


def test_reduce_zero_label(folder):
    sample = semantic(folder[0], reduce_zero_label=True)[0]["data_samples"]
    assert sample.gt.labels.tolist() == [0, 1]
    assert np.unique(sample.gt_sem_seg.numpy()).tolist() == [0, 1, 255]


def test_image_without_segments_gives_empty_targets(tmp_path):
    write_png(tmp_path / "images/a.png", np.zeros((5, 7, 3), np.uint8))
    write_png(tmp_path / "annotations/a.png", np.zeros((5, 7), np.uint8))
    sample = semantic(tmp_path, reduce_zero_label=True)[0]["data_samples"]
    assert sample.gt.labels.shape == (0,) and sample.gt.masks.shape == (0, 5, 7)
    assert sample.gt_segment_ids.shape == (0,) and (sample.gt_sem_seg == 255).all()


def test_panoptic_crowd_and_void(tmp_path):
    pan = np.zeros((4, 6, 3), np.uint8)
    pan[:, :2, 0] = 7  # segment 7: stuff
    pan[:, 2:4, 1] = 1  # segment 256: crowd thing
    results = dict(pan_seg_path=write_png(tmp_path / "p.png", pan), ori_shape=(4, 6), ignore_index=255,
                   img=np.zeros((4, 6, 3), np.uint8),
                   segments_info=[dict(id=7, label=0, iscrowd=0, category_id=1, isthing=False),
                                  dict(id=256, label=1, iscrowd=1, category_id=2, isthing=True)])
    out = PackSegInputs()(LoadSegAnnotations()(results))["data_samples"]
    assert out.gt.labels.tolist() == [0] and out.gt_segment_ids.tolist() == [7]
    assert out.gt_sem_seg[0].tolist() == [0, 0, 1, 1, 255, 255]  # crowd keeps its class, void ignored
    assert out.gt_panoptic["id_map"][0].tolist() == [7, 7, 256, 256, 0, 0]


def test_missing_image_names_the_file(folder):
    ds = semantic(folder[0])
    os.remove(folder[0] / "images/a.png")
    with pytest.raises(FileNotFoundError, match=r"image file .*a\.png does not exist"):
        ds[0]


def test_missing_label_map_names_the_file(folder):
    os.remove(folder[1])
    with pytest.raises(FileNotFoundError, match=r"label map .*annotations/a\.png does not exist"):
        semantic(folder[0])[0]


def test_unreadable_png_names_the_file(folder):
    with open(folder[1], "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(ValueError, match=r"cannot decode label map .*annotations/a\.png"):
        semantic(folder[0])[0]


def test_corrupt_image_names_the_file(folder):
    with open(folder[0] / "images/a.png", "wb") as f:
        f.write(b"garbage")
    with pytest.raises(ValueError, match=r"cannot decode image file .*images/a\.png"):
        LoadImageFromFile()(dict(img_path=str(folder[0] / "images/a.png")))


def test_label_out_of_range_names_file_and_ids(folder):
    msg = r"annotations/a\.png has class ids \[3\] outside \[0, 3\).*reduce_zero_label=True"
    with pytest.raises(ValueError, match=msg):
        semantic(folder[0], metainfo=dict(classes=("a", "b", "c")), label_map={0: 3})[0]
    write_png(folder[1], np.full((6, 8), 200, np.uint8))
    with pytest.raises(ValueError, match=r"class ids \[200\] outside \[0, 3\) that are not ignore_index=255$"):
        semantic(folder[0])[0]


def test_colour_label_map_is_rejected(folder):
    write_png(folder[1], np.zeros((6, 8, 3), np.uint8))
    with pytest.raises(ValueError, match=r"annotations/a\.png has shape \(6, 8, 3\): expected a single-channel"):
        semantic(folder[0])[0]


def test_size_mismatch_names_both_files(folder):
    write_png(folder[1], np.zeros((3, 8), np.uint8))
    msg = r"annotation .*annotations/a\.png is 3x8 but image .*images/a\.png is 6x8"
    with pytest.raises(ValueError, match=msg):
        semantic(folder[0])[0]


def test_empty_image_folder(tmp_path):
    os.makedirs(tmp_path / "images")
    with pytest.raises(FileNotFoundError, match=r"no '\*\.png' images under .*images"):
        semantic(tmp_path)


@pytest.fixture()
def coco_copy(toy_root, tmp_path):
    root = tmp_path / "coco"
    shutil.copytree(os.path.join(toy_root, "coco"), root)
    return root


def coco_panoptic(root, **kw):
    return DATASETS.build(dict(type="CocoPanopticDataset", data_root=str(root), pipeline=LOAD,
                               ann_file="annotations/panoptic_val2017.json",
                               data_prefix=dict(img_path="val2017", pan_seg_path="panoptic_val2017"), **kw))


def edit_json(path, fn) -> None:
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


def test_json_naming_absent_file(coco_copy):
    ann = coco_copy / "annotations/panoptic_val2017.json"
    edit_json(ann, lambda d: d["annotations"][0].update(file_name="missing.png"))
    msg = r"panoptic PNG .*missing\.png does not exist \(listed in .*panoptic_val2017\.json\)"
    with pytest.raises(FileNotFoundError, match=msg):
        coco_panoptic(coco_copy)[0]
    edit_json(ann, lambda d: d["images"][1].update(file_name="gone.jpg"))
    with pytest.raises(FileNotFoundError, match=r"image file .*gone\.jpg does not exist \(listed in"):
        coco_panoptic(coco_copy)[1]


def test_json_unknown_category_and_unlisted_segment(coco_copy):
    ann = coco_copy / "annotations/panoptic_val2017.json"
    edit_json(ann, lambda d: d["annotations"][0]["segments_info"][0].update(category_id=99))
    msg = r"segment \d+ of image \d+ in .*panoptic_val2017\.json has category_id 99"
    with pytest.raises(ValueError, match=msg):
        coco_panoptic(coco_copy)
    edit_json(ann, lambda d: d["annotations"][0]["segments_info"][0].update(category_id=1))
    edit_json(ann, lambda d: d["annotations"][0]["segments_info"].pop(0))
    with pytest.raises(ValueError, match=r"panoptic PNG .*\.png has segment ids \[\d+\] that segments_info"):
        coco_panoptic(coco_copy)[0]


def test_malformed_json_and_size_mismatch(coco_copy):
    ann = coco_copy / "annotations/instances_val2017.json"
    edit_json(ann, lambda d: d["images"][0].update(height=10))
    ds = DATASETS.build(dict(type="CocoInstanceDataset", data_root=str(coco_copy), pipeline=LOAD, test_mode=True,
                             ann_file="annotations/instances_val2017.json", data_prefix=dict(img_path="val2017")))
    with pytest.raises(ValueError, match=r"image file .*\.jpg is 64x96 but its annotation .* says 10x96"):
        ds[0]
    ann.write_text("{not json")
    with pytest.raises(ValueError, match=r"annotation file .*instances_val2017\.json is not valid JSON"):
        DATASETS.build(dict(type="CocoInstanceDataset", data_root=str(coco_copy),
                            ann_file="annotations/instances_val2017.json"))


def test_metainfo_classes_must_match_json(coco_copy):
    with pytest.raises(ValueError, match=r"metainfo classes \['x'\] disagree with the categories of"):
        coco_panoptic(coco_copy, metainfo=dict(classes=("x",)))
    ds = coco_panoptic(coco_copy, metainfo=dict(palette=[[1, 2, 3]] * 8, thing_classes=("disk",)))
    assert ds.metainfo["palette"][0] == [1, 2, 3] and ds.metainfo["thing_classes"] == ("disk",)
