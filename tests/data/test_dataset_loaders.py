"""Every loader reads the toy files of its format and returns the generator's ground truth."""
from __future__ import annotations

import os.path as osp

import numpy as np
import pytest
import torch

from segformers.data.datasets.cityscapes import LABEL_ID_TO_TRAIN_ID, THING_ID_TO_LABEL
from segformers.data.toy import TOY_CLASSES, TOY_IS_THING, TOY_PALETTE, TOY_TO_CITYSCAPES, make_scene
from segformers.data.toy.layouts import cityscapes_instance_ids, coco_image_id
from segformers.registry import DATASETS
from segformers.structures import SegDataSample, Targets

from data_toy_params import TOY_COUNTS, TOY_SEED, TOY_SIZE

LOAD = [dict(type="LoadImageFromFile"), dict(type="LoadSegAnnotations"), dict(type="PackSegInputs")]
N_VAL = TOY_COUNTS["num_val"]


def scene(i: int):
    return make_scene(i, "val", TOY_SIZE, TOY_SEED)


def build(toy_root: str, sub: str, **cfg):
    return DATASETS.build(dict(cfg, data_root=osp.join(toy_root, sub), pipeline=cfg.get("pipeline", LOAD)))


def coco_panoptic(toy_root: str, type_: str = "CocoPanopticDataset", **kw):
    return build(toy_root, "coco", type=type_, ann_file="annotations/panoptic_val2017.json",
                 data_prefix=dict(img_path="val2017", pan_seg_path="panoptic_val2017"), **kw)


def coco_instance(toy_root: str, type_: str = "CocoInstanceDataset", **kw):
    return build(toy_root, "coco", type=type_, ann_file="annotations/instances_val2017.json",
                 data_prefix=dict(img_path="val2017"), **kw)


def check_contract(out: dict) -> SegDataSample:
    """The packed-sample contract the model relies on."""
    inputs, sample = out["inputs"], out["data_samples"]
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, *TOY_SIZE)
    assert isinstance(sample, SegDataSample) and isinstance(sample.gt, Targets)
    assert sample.gt.labels.dtype == torch.int64 and sample.gt.masks.dtype == torch.bool
    assert sample.gt.masks.shape[1:] == TOY_SIZE
    for key in ("img_path", "ori_shape", "img_shape", "scale_factor", "flip"):
        assert key in sample.metainfo
    assert sample.ori_shape == sample.img_shape == TOY_SIZE and sample.flip is False
    return sample


def expect_segments(segments, label_of=lambda s: s.label, id_of=lambda s: s.id):
    kept = [s for s in segments if not s.iscrowd]
    masks = np.stack([s.mask for s in kept]) if kept else None
    return [label_of(s) for s in kept], masks, [id_of(s) for s in kept]


def assert_targets(sample: SegDataSample, labels, masks, ids) -> None:
    assert sample.gt.labels.tolist() == labels
    assert sample.gt_segment_ids.tolist() == ids
    if masks is None:
        assert sample.gt.masks.shape == (0, *TOY_SIZE)
    else:
        assert np.array_equal(sample.gt.masks.numpy(), masks)


@pytest.mark.parametrize("kind", ["custom", "ade20k"])
def test_ade_layout_semantic(toy_root, kind):
    prefix = dict(img_path="images/validation", seg_map_path="annotations/validation")
    if kind == "custom":
        ds = build(toy_root, "ade", type="CustomSemanticDataset", data_prefix=prefix, reduce_zero_label=True,
                   metainfo_file="../metainfo.json")
        assert ds.metainfo["thing_classes"] == TOY_CLASSES[4:] and ds.metainfo["palette"] == TOY_PALETTE
    else:  # ADE20KDataset: reduce_zero_label by default, classes overridden for the toy
        ds = build(toy_root, "ade", type="ADE20KDataset", data_prefix=prefix, metainfo=dict(classes=TOY_CLASSES))
    assert len(ds) == N_VAL and ds.metainfo["classes"] == TOY_CLASSES
    for i in range(N_VAL):
        sample, gt = check_contract(ds[i]), scene(i)
        sem = gt.sem_seg()
        assert np.array_equal(sample.gt_sem_seg.numpy(), sem)
        classes = sorted(set(np.unique(sem).tolist()) - {255})
        assert_targets(sample, classes, np.stack([sem == c for c in classes]), classes)


@pytest.mark.parametrize("type_", ["CocoPanopticDataset", "ADE20KPanopticDataset"])
def test_coco_panoptic(toy_root, type_):
    ds = coco_panoptic(toy_root, type_)
    meta = ds.metainfo
    assert meta["classes"] == TOY_CLASSES and meta["is_thing"] == TOY_IS_THING
    assert meta["category_ids"] == tuple(range(1, 9)) and meta["palette"] == TOY_PALETTE
    crowd_seen = 0
    for i in range(N_VAL):
        sample, gt = check_contract(ds[i]), scene(i)
        assert_targets(sample, *expect_segments(gt.segments))
        assert np.array_equal(sample.gt_panoptic["id_map"].numpy(), gt.pan_seg())
        assert np.array_equal(sample.gt_sem_seg.numpy(), gt.sem_seg())  # crowd keeps its class
        info = sample.gt_panoptic["segments_info"]
        assert [(s["id"], s["dataset_category_id"], s["category_id"], bool(s["iscrowd"]), s["isthing"])
                for s in info] == [(s.id, s.label + 1, s.label, s.iscrowd, s.is_thing) for s in gt.segments]
        assert sample.img_id == coco_image_id("val", i)
        crowd_seen += sum(s.iscrowd for s in gt.segments)
    assert crowd_seen > 0, "toy val split should contain a crowd segment"


def test_panoptic_data_as_semantic_targets(toy_root):
    pipeline = [dict(type="LoadImageFromFile"), dict(type="LoadSegAnnotations", with_panoptic=False),
                dict(type="PackSegInputs")]
    sample = check_contract(coco_panoptic(toy_root, pipeline=pipeline)[0])
    sem = scene(0).sem_seg()
    classes = sorted(set(np.unique(sem).tolist()) - {255})
    assert "gt_panoptic" not in sample
    assert_targets(sample, classes, np.stack([sem == c for c in classes]), classes)


@pytest.mark.parametrize("type_", ["CocoInstanceDataset", "ADE20KInstanceDataset"])
def test_coco_instance(toy_root, type_):
    ds = coco_instance(toy_root, type_, test_mode=True)
    assert ds.metainfo["classes"] == TOY_CLASSES[4:] and ds.metainfo["category_ids"] == (5, 6, 7, 8)
    assert len(ds) == N_VAL
    for i in range(N_VAL):
        sample, gt = check_contract(ds[i]), scene(i)
        things = [s for s in gt.segments if s.is_thing]
        assert_targets(sample, *expect_segments(things, label_of=lambda s: s.label - 4))
        assert "gt_sem_seg" not in sample and "gt_panoptic" not in sample


def test_instance_filter_empty_only_in_training(toy_root):
    has_instances = [any(s.is_thing and not s.iscrowd for s in scene(i).segments) for i in range(N_VAL)]
    assert not all(has_instances), "toy val split should contain an image without instances"
    train = coco_instance(toy_root, filter_cfg=dict(filter_empty_gt=True))
    test = coco_instance(toy_root, filter_cfg=dict(filter_empty_gt=True), test_mode=True)
    assert len(train) == sum(has_instances) and len(test) == N_VAL
    empty = test[has_instances.index(False)]["data_samples"]
    assert empty.gt.labels.shape == (0,) and empty.gt.masks.shape == (0, *TOY_SIZE)


@pytest.mark.parametrize("suffix", ["_gtFine_labelIds.png", "_gtFine_labelTrainIds.png"])
def test_cityscapes_semantic(toy_root, suffix):
    ds = build(toy_root, "cityscapes", type="CityscapesDataset", seg_map_suffix=suffix,
               data_prefix=dict(img_path="leftImg8bit/val", seg_map_path="gtFine/val"))
    assert len(ds) == N_VAL and len(ds.metainfo["classes"]) == 19
    lut = {k: LABEL_ID_TO_TRAIN_ID[TOY_TO_CITYSCAPES[k]] for k in range(8)}
    for i in range(N_VAL):
        sample, sem = check_contract(ds[i]), scene(i).sem_seg()
        expected = np.vectorize(lambda v: lut.get(v, 255))(sem)
        assert np.array_equal(sample.gt_sem_seg.numpy(), expected)
        assert sample.gt.labels.tolist() == sorted(set(np.unique(expected).tolist()) - {255})


def test_cityscapes_instance(toy_root):
    ds = build(toy_root, "cityscapes", type="CityscapesInstanceDataset",
               data_prefix=dict(img_path="leftImg8bit/val", seg_map_path="gtFine/val"))
    assert ds.metainfo["classes"] == ("person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")
    for i in range(N_VAL):
        sample, gt = check_contract(ds[i]), scene(i)
        ids_map = cityscapes_instance_ids(gt)
        things = [s for s in gt.segments if s.is_thing and not s.iscrowd]
        ids = [int(ids_map[s.mask][0]) for s in things]
        labels = [THING_ID_TO_LABEL[TOY_TO_CITYSCAPES[s.label]] for s in things]
        order = np.argsort(ids)  # segments come in id order
        assert sample.gt_segment_ids.tolist() == [ids[j] for j in order]
        assert sample.gt.labels.tolist() == [labels[j] for j in order]
        for mask, j in zip(sample.gt.masks.numpy(), order):
            assert np.array_equal(mask, things[j].mask)


def test_cityscapes_panoptic(toy_root):
    ds = build(toy_root, "cityscapes", type="CityscapesPanopticDataset",
               ann_file="gtFine/cityscapes_panoptic_val.json",
               data_prefix=dict(img_path="leftImg8bit/val", pan_seg_path="gtFine/cityscapes_panoptic_val"))
    assert ds.metainfo["category_ids"][:3] == (7, 8, 11) and sum(ds.metainfo["is_thing"]) == 8
    for i in range(N_VAL):
        sample, gt = check_contract(ds[i]), scene(i)
        ids_map = cityscapes_instance_ids(gt)
        pan = sample.gt_panoptic["id_map"].numpy()
        assert np.array_equal(pan, np.where(gt.void, 0, ids_map))
        sem = gt.sem_seg()
        expected_sem = np.vectorize(lambda v: LABEL_ID_TO_TRAIN_ID[TOY_TO_CITYSCAPES[v]] if v < 8 else 255)(sem)
        assert np.array_equal(sample.gt_sem_seg.numpy(), expected_sem)
        for s in sample.gt_panoptic["segments_info"]:
            assert s["category_id"] == LABEL_ID_TO_TRAIN_ID[s["dataset_category_id"]]
            assert bool(s["iscrowd"]) == (s["isthing"] and s["id"] < 1000)
        masks = sample.gt.masks.numpy()
        assert np.array_equal(masks, pan[None] == sample.gt_segment_ids.numpy()[:, None, None])
        assert len(masks) == len({v for v in np.unique(pan).tolist() if v} - set(range(24, 34)))


def test_packed_ground_truth_scores_perfectly_with_the_metrics(toy_root):
    """The packed ``gt_sem_seg`` / ``gt_panoptic`` follow the contract of ``segformers.evaluation``."""
    from segformers.evaluation import PanopticMetric, SemSegMetric

    ds = coco_panoptic(toy_root, test_mode=True)
    pq, miou = PanopticMetric(), SemSegMetric()
    for metric in (pq, miou):
        metric.dataset_meta = ds.metainfo
    for i in range(N_VAL):
        sample = ds[i]["data_samples"]
        gt = sample.gt_panoptic
        segments = [dict(s) for s in gt["segments_info"]]
        sample.pred = dict(sem_seg=sample.gt_sem_seg.clamp(max=7), panoptic_seg=(gt["id_map"], segments))
        pq.process({}, [sample])
        miou.process({}, [sample])
    scores = {**pq.evaluate(N_VAL), **miou.evaluate(N_VAL)}
    assert scores["panoptic_seg/PQ"] == pytest.approx(100.0) and scores["sem_seg/pACC"] == pytest.approx(100.0)
    assert scores["sem_seg/mIoU"] == pytest.approx(100.0)
