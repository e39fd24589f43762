"""Each transform's exact parameters and quirks (official.md §2.5) and the packed-sample contract."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from segformers.data.transforms import (
    ColorAugSSD,
    FixedSizeCrop,
    PackSegInputs,
    Pad,
    RandomCrop,
    RandomFlip,
    ResizeScale,
    ResizeShortestEdge,
    nearest_indices,
)
from segformers.data.transforms.geometric import shortest_edge_shape
from segformers.registry import TRANSFORMS


def make_results(h: int, w: int, n_masks: int = 2) -> dict:
    """Image + coordinate-coded maps: ``gt_pan_seg[y, x] = y * w + x + 1``."""
    coords = (np.arange(h * w).reshape(h, w) + 1).astype(np.int32)
    img = np.stack([coords % 256, coords // 256 % 256, np.full_like(coords, 7)], -1).astype(np.uint8)
    sem = (coords % 5).astype(np.int32)
    masks = np.stack([sem == k for k in range(n_masks)])
    return dict(img=img, img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0), flip=False,
                gt_sem_seg=sem, gt_pan_seg=coords, gt_masks=masks, gt_labels=np.arange(n_masks),
                gt_seg_ids=np.arange(n_masks) + 1, ignore_index=255)


@pytest.mark.parametrize("n_in,n_out", [(7, 3), (3, 7), (480, 1024), (1024, 333), (13, 13), (5, 1), (1, 4)])
def test_nearest_indices_match_pil(n_in, n_out):
    row = (np.arange(n_in) % 251).astype(np.uint8)[None].repeat(2, 0)
    pil = np.asarray(Image.fromarray(row).resize((n_out, 2), Image.NEAREST))[0]
    assert np.array_equal(row[0][nearest_indices(n_in, n_out)], pil)


def test_shortest_edge_shape_matches_detectron2_rule():
    assert shortest_edge_shape(480, 640, 800, 1333) == (800, 1067)
    assert shortest_edge_shape(640, 480, 800, 1333) == (1067, 800)
    assert shortest_edge_shape(1000, 3000, 800, 1333) == (444, 1333)  # long side capped
    assert shortest_edge_shape(512, 683, 256, 2048) == (256, 342)


def test_resize_shortest_edge_choice_and_range():
    lengths = [64, 96, 128]
    t = ResizeShortestEdge(lengths, max_size=1000, sample_style="choice", seed=0)
    shorts = {min(t(make_results(40, 60))["img"].shape[:2]) for _ in range(30)}
    assert shorts == set(lengths)
    t = ResizeShortestEdge([20, 24], max_size=1000, sample_style="range", seed=0)
    shorts = {min(t(make_results(40, 60))["img"].shape[:2]) for _ in range(60)}
    assert shorts == set(range(20, 25))
    out = ResizeShortestEdge(30, max_size=40)(make_results(20, 60))
    assert out["img"].shape[:2] == (13, 40) and out["img_shape"] == (13, 40)
    assert out["scale_factor"] == pytest.approx((40 / 60, 13 / 20))
    for key in ("gt_sem_seg", "gt_pan_seg"):
        assert out[key].shape == (13, 40)
    assert out["gt_masks"].shape == (2, 13, 40)


def test_resize_image_is_pil_bilinear_and_labels_nearest():
    res = make_results(10, 14)
    img = res["img"].copy()
    out = ResizeShortestEdge(25, sample_style="choice")(res)
    assert np.array_equal(out["img"], np.asarray(Image.fromarray(img).resize((35, 25), Image.BILINEAR)))
    ys, xs = nearest_indices(10, 25), nearest_indices(14, 35)
    assert np.array_equal(out["gt_pan_seg"], make_results(10, 14)["gt_pan_seg"][ys[:, None], xs[None, :]])


def test_resize_scale_formula():
    t = ResizeScale(0.1, 2.0, target_size=(64, 80), seed=3)
    scale = np.random.RandomState(3).uniform(0.1, 2.0)
    out = t(make_results(30, 50))
    factor = min(64 * scale / 30, 80 * scale / 50)
    assert out["img"].shape[:2] == (round(30 * factor), round(50 * factor))


def test_fixed_size_crop_shares_one_offset_fraction_and_pads():
    res = make_results(50, 90)
    out = FixedSizeCrop((20, 30), seed=1)(res)
    u = np.random.RandomState(1).uniform(0, 1)
    y0, x0 = round(30 * u), round(60 * u)
    assert out["gt_pan_seg"][0, 0] == y0 * 90 + x0 + 1 and out["img"].shape == (20, 30, 3)
    out = FixedSizeCrop((40, 30), pad_value=128, seg_pad_value=255, seed=1)(make_results(25, 50))
    assert out["img"].shape == (40, 30, 3) and out["img_shape"] == (40, 30)
    assert (out["img"][25:] == 128).all() and (out["gt_sem_seg"][25:] == 255).all()
    assert (out["gt_pan_seg"][25:] == 0).all() and not out["gt_masks"][:, 25:].any()
    assert (out["gt_sem_seg"][:25] != 255).all()


def test_random_crop_absolute_and_area_constraint():
    out = RandomCrop((10, 12), seed=0)(make_results(30, 40))
    assert out["img"].shape[:2] == (10, 12)
    assert RandomCrop((100, 100), seed=0)(make_results(30, 40))["img"].shape[:2] == (30, 40)
    sem = np.zeros((40, 40), np.int32)
    sem[:, 30:] = 1  # crops touching x >= 30 see two classes
    hits = []
    for seed in range(20):
        res = dict(make_results(40, 40), gt_sem_seg=sem.copy())
        crop = RandomCrop((10, 10), single_category_max_area=0.9, seed=seed)(res)["gt_sem_seg"]
        hits.append(len(np.unique(crop)) > 1)
    assert np.mean(hits) > 0.8  # plain crops see two classes in 10/31 of the cases
    plain = RandomCrop((10, 10), seed=4)(make_results(40, 40))["gt_pan_seg"]
    same = RandomCrop((10, 10), single_category_max_area=1.0, seed=4)(dict(make_results(40, 40), gt_sem_seg=sem))
    assert np.array_equal(plain, same["gt_pan_seg"])  # 1.0 == plain RandomCrop (no retry draws)


def test_flip_moves_everything():
    res = make_results(6, 9)
    ref = make_results(6, 9)
    out = RandomFlip(prob=1.0)(res)
    for key in ("img", "gt_sem_seg", "gt_pan_seg"):
        assert np.array_equal(out[key], ref[key][:, ::-1])
    assert np.array_equal(out["gt_masks"], ref["gt_masks"][:, :, ::-1])
    assert out["flip"] is True and out["flip_direction"] == "horizontal"
    out = RandomFlip(prob=1.0, direction="vertical")(make_results(6, 9))
    assert np.array_equal(out["gt_pan_seg"], ref["gt_pan_seg"][::-1])
    assert RandomFlip(prob=0.0)(make_results(6, 9))["flip"] is False


def test_pad_to_divisor_and_size():
    out = Pad(size_divisor=8)(make_results(9, 16))
    assert out["img"].shape[:2] == (16, 16) and (out["gt_sem_seg"][9:] == 255).all()
    out = Pad(size=(12, 20), pad_value=0, seg_pad_value=7)(make_results(9, 16))
    assert out["img"].shape[:2] == (12, 20) and (out["img"][9:] == 0).all()
    assert (out["gt_sem_seg"][:, 16:] == 7).all()
    with pytest.raises(ValueError, match="exactly one"):
        Pad()


def test_color_aug_ssd():
    res = make_results(20, 20)
    img, sem = res["img"].copy(), res["gt_sem_seg"].copy()
    a = ColorAugSSD(seed=5)(dict(res, img=img.copy()))["img"]
    b = ColorAugSSD(seed=5)(dict(res, img=img.copy()))["img"]
    assert np.array_equal(a, b) and a.dtype == np.uint8 and a.shape == img.shape
    out = ColorAugSSD(seed=5)(res)
    assert np.array_equal(out["gt_sem_seg"], sem)
    changed = [not np.array_equal(ColorAugSSD(seed=s)(dict(res, img=img.copy()))["img"], img) for s in range(10)]
    assert sum(changed) >= 7  # four independent coins: mostly something happens
    # brightness only: a constant shift |delta| <= 32, clipped to uint8
    flat = dict(res, img=np.full((4, 4, 3), 100, np.uint8))
    t = ColorAugSSD(contrast_range=(1, 1), saturation_range=(1, 1), hue_delta=0, seed=0)
    deltas = {int(t(dict(flat, img=flat["img"].copy()))["img"][0, 0, 0]) - 100 for _ in range(40)}
    assert 0 in deltas and len(deltas) > 5 and max(abs(d) for d in deltas) <= 32


def test_pack_contract():
    res = make_results(6, 9, n_masks=3)
    res["gt_masks"][2] = False  # an instance cropped away
    res.update(img_path="x.jpg", segments_info=[])
    out = PackSegInputs()(res)
    inputs, sample = out["inputs"], out["data_samples"]
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 6, 9) and inputs[2].eq(7).all()
    assert sample.gt.labels.tolist() == [0, 1] and sample.gt.masks.dtype == torch.bool
    assert sample.gt_segment_ids.tolist() == [1, 2]
    assert sample.gt_sem_seg.dtype == torch.int64 and sample.gt_sem_seg.shape == (6, 9)
    assert sample.gt_panoptic["id_map"].dtype == torch.int64
    assert sample.img_path == "x.jpg" and sample.ori_shape == (6, 9) and sample.flip is False
    kept = PackSegInputs(drop_empty=False)(make_results(6, 9, n_masks=3) | {"gt_masks": res["gt_masks"]})
    assert kept["data_samples"].gt.labels.tolist() == [0, 1, 2]


def test_pack_without_targets_and_registry_names():
    res = dict(img=np.zeros((4, 5, 3), np.uint8))
    sample = PackSegInputs()(res)["data_samples"]
    assert sample.gt.masks.shape == (0, 4, 5) and sample.gt.labels.shape == (0,)
    for name in ("LoadImageFromFile", "LoadSegAnnotations", "ResizeShortestEdge", "ResizeScale", "FixedSizeCrop",
                 "RandomCrop", "ColorAugSSD", "RandomFlip", "Pad", "PackSegInputs"):
        assert TRANSFORMS.get(name) is not None
    with pytest.raises(KeyError, match="Closest names"):
        TRANSFORMS.build(dict(type="ResizeShortEdge", short_edge_length=3))
