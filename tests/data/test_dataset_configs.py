"""Base dataset configs: structure, official parameters, and the toy configs end to end."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from segformers.registry import DATASETS, TRANSFORMS

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "configs/_base_/datasets"
CONFIGS = sorted(p.name for p in CONFIG_DIR.glob("*.py"))
TOY = ["toy_semantic.py", "toy_panoptic.py", "toy_instance.py", "toy_cityscapes.py"]


def load(name: str) -> Config:
    return Config.fromfile(str(CONFIG_DIR / name))


def step(pipeline: list, type_: str) -> dict:
    return next(t for t in pipeline if t["type"] == type_)


def test_expected_configs_exist():
    official = ["ade20k.py", "ade20k_640.py", "ade20k_panoptic.py", "ade20k_instance.py", "coco_panoptic.py",
                "coco_instance.py", "cityscapes_semantic.py", "cityscapes_panoptic.py", "cityscapes_instance.py"]
    for name in official + TOY:
        assert name in CONFIGS


@pytest.mark.parametrize("name", CONFIGS)
def test_config_structure_and_transforms_build(name):
    cfg = load(name)
    for split, shuffle in (("train", True), ("val", False), ("test", False)):
        loader = cfg[f"{split}_dataloader"]
        assert loader["sampler"] == dict(type="DefaultSampler", shuffle=shuffle)
        assert loader["collate_fn"] == dict(type="pseudo_collate")
        dataset = loader["dataset"]
        assert DATASETS.get(dataset["type"]) is not None and dataset["data_root"]
        assert dataset.get("test_mode", False) == (split != "train")
        pipeline = dataset["pipeline"]
        assert pipeline[0]["type"] == "LoadImageFromFile" and pipeline[-1]["type"] == "PackSegInputs"
        for t in pipeline:
            TRANSFORMS.build(t)
    if name.startswith("toy_"):
        assert cfg.train_dataloader.dataset.data_root == "data/toy/"


def test_official_parameters():
    ade = load("ade20k.py").train_pipeline
    resize = step(ade, "ResizeShortestEdge")
    assert resize["short_edge_length"] == [int(x * 0.1 * 512) for x in range(5, 21)]
    assert resize["max_size"] == 2048 and resize["sample_style"] == "choice"
    assert tuple(step(ade, "RandomCrop")["crop_size"]) == (512, 512) and step(ade, "Pad")["size_divisor"] == 512
    order = ["ResizeShortestEdge", "RandomCrop", "ColorAugSSD", "RandomFlip", "Pad", "PackSegInputs"]
    assert [t["type"] for t in ade][2:] == order
    ade640 = load("ade20k_panoptic.py").train_pipeline
    assert step(ade640, "ResizeShortestEdge")["short_edge_length"] == [int(x * 0.1 * 640) for x in range(5, 21)]
    assert step(ade640, "ResizeShortestEdge")["max_size"] == 2560 and step(ade640, "Pad")["size_divisor"] == 640
    city = load("cityscapes_semantic.py")
    lengths = step(city.train_pipeline, "ResizeShortestEdge")["short_edge_length"]
    assert lengths == [int(x * 0.1 * 1024) for x in range(5, 21)]
    assert tuple(step(city.train_pipeline, "RandomCrop")["crop_size"]) == (512, 1024)
    assert not any(t["type"] == "Pad" for t in city.train_pipeline)
    test_resize = step(city.test_pipeline, "ResizeShortestEdge")
    assert test_resize == dict(type="ResizeShortestEdge", short_edge_length=1024, max_size=2048)
    for name in ("coco_panoptic.py", "coco_instance.py"):
        coco = load(name)
        lsj_order = ["RandomFlip", "ResizeScale", "FixedSizeCrop", "PackSegInputs"]
        assert [t["type"] for t in coco.train_pipeline][2:] == lsj_order
        lsj = step(coco.train_pipeline, "ResizeScale")
        assert (lsj["min_scale"], lsj["max_scale"], tuple(lsj["target_size"])) == (0.1, 2.0, (1024, 1024))
        assert step(coco.train_pipeline, "FixedSizeCrop")["pad_value"] == 128
        assert step(coco.test_pipeline, "ResizeShortestEdge")["short_edge_length"] == 800
    assert load("coco_instance.py").train_dataloader.dataset.filter_cfg == dict(filter_empty_gt=True)


@pytest.mark.parametrize("name", TOY)
def test_toy_configs_end_to_end(toy_root, name):
    cfg = load(name)
    train = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=toy_root + "/"))
    val = DATASETS.build(dict(cfg.val_dataloader.dataset, data_root=toy_root + "/"))
    assert len(val) == 6 and len(train) >= 1
    for i in range(2):
        out = train[i]
        inputs, sample = out["inputs"], out["data_samples"]
        assert inputs.dtype == torch.uint8 and sample.gt.masks.shape[1:] == inputs.shape[1:]
        if name != "toy_cityscapes.py":
            assert tuple(inputs.shape) == (3, 128, 128)  # crop (+ pad) size
        assert all(0 <= label < len(train.metainfo["classes"]) for label in sample.gt.labels.tolist())
    sample = val[0]["data_samples"]
    assert val[0]["inputs"].shape[1:] == (128, 192)  # 64x96 resized to short side 128
    assert sample.gt.masks.shape[1:] == (64, 96) and sample.ori_shape == (64, 96)  # targets at original size
    assert sample.scale_factor == pytest.approx((2.0, 2.0))


def test_runner_builds_the_toy_dataloader(toy_root):
    cfg = load("toy_panoptic.py")
    loader_cfg = dict(cfg.train_dataloader, num_workers=0, persistent_workers=False, batch_size=3)
    loader_cfg["dataset"] = dict(loader_cfg["dataset"], data_root=toy_root + "/")
    with DefaultScope.overwrite_default_scope("segformers"):  # what the Runner's default_scope does
        loader = Runner.build_dataloader(loader_cfg, seed=0)
    batch = next(iter(loader))
    assert len(batch["inputs"]) == 3 and len(batch["data_samples"]) == 3
    assert all(x.shape == (3, 128, 128) for x in batch["inputs"])


def test_browse_dataset_tool(toy_root, tmp_path):
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import browse_dataset
    finally:
        sys.path.pop(0)
    written = browse_dataset.main([
        str(CONFIG_DIR / "toy_panoptic.py"), "--num", "2", "--output-dir", str(tmp_path),
        "--cfg-options", f"train_dataloader.dataset.data_root={toy_root}/",
    ])
    assert len(written) == 2
    img = cv2.imread(written[0])
    assert img.shape == (128, 256, 3) and not np.array_equal(img[:, :128], img[:, 128:])
