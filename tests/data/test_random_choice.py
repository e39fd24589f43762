"""RandomChoice: one of several pipelines per call, seeded like every other transform.

The MaskFormer COCO panoptic configs use it for the DETR-style ``detr_panoptic`` augmentation
(official.md §2.8); the config's structure itself is checked in tests/test_model_zoo.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segformers.apis import load_config
from segformers.data.transforms import RandomChoice, RandomCrop, ResizeShortestEdge
from segformers.registry import TRANSFORMS

ROOT = Path(__file__).resolve().parents[2]
MF_COCO = ROOT / "configs/maskformer/maskformer_r50_64xb1-554k_coco-panoptic.py"


def coded_results(h: int, w: int, n_masks: int = 3) -> dict:
    """Every target encodes its pixel's source position: ``gt_pan_seg[y, x] = y * w + x + 1``.

    The image holds the same number in its first two channels (low byte, high byte), ``gt_sem_seg``
    is ``gt_pan_seg % 5`` and ``gt_masks[k]`` is ``gt_sem_seg == k``.
    """
    pan = (np.arange(h * w).reshape(h, w) + 1).astype(np.int32)
    img = np.stack([pan % 256, pan // 256, np.full_like(pan, 9)], -1).astype(np.uint8)
    sem = (pan % 5).astype(np.int32)
    return dict(img=img, img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0), flip=False,
                gt_sem_seg=sem, gt_pan_seg=pan, gt_masks=np.stack([sem == k for k in range(n_masks)]),
                gt_labels=np.arange(n_masks), gt_seg_ids=np.arange(n_masks) + 1, ignore_index=255)


def assert_aligned(out: dict) -> None:
    """Image, semantic map, panoptic map and masks still describe the same source pixels."""
    pan = out["gt_pan_seg"]
    decoded = out["img"][..., 0].astype(np.int64) + 256 * out["img"][..., 1].astype(np.int64)
    assert np.array_equal(decoded, pan)
    assert np.array_equal(out["gt_sem_seg"], pan % 5)
    for k, mask in enumerate(out["gt_masks"]):
        assert np.array_equal(mask, out["gt_sem_seg"] == k)
    assert out["img_shape"] == pan.shape == out["gt_masks"].shape[1:]


def mark(i: int):  # noqa: ANN201
    def step(results: dict) -> dict:
        results.setdefault("branches", []).append(i)
        return results

    return step


# --- choice ------------------------------------------------------------------------------------------
def test_private_seed_repeats_the_choices_and_the_nested_draws():
    cfg = dict(type="RandomChoice", prob=[0.3, 0.7], transforms=[
        [dict(type="RandomCrop", crop_size=(5, 20), crop_type="absolute_range")],
        [dict(type="ResizeShortestEdge", short_edge_length=[8, 30], interp="nearest"),
         dict(type="RandomCrop", crop_size=(4, 6), crop_type="absolute_range")],
    ], seed=3)
    runs = []
    for _ in range(2):
        t = TRANSFORMS.build(cfg)
        runs.append([t(coded_results(24, 32))["gt_pan_seg"] for _ in range(12)])
    assert all(np.array_equal(a, b) for a, b in zip(*runs))
    assert len({a.shape for a in runs[0]}) > 2  # the draws really vary
    # the nested transforms draw from the composite's private stream, not numpy's global one
    t = TRANSFORMS.build(cfg)
    assert all(s._rs is t._rs for branch in t.transforms for s in branch)
    np.random.seed(123)
    first = [t(coded_results(24, 32))["gt_pan_seg"] for _ in range(3)]
    assert all(np.array_equal(a, b) for a, b in zip(first, runs[0][:3]))


def test_global_seed_repeats_the_choices_without_a_private_seed():
    t = RandomChoice([[mark(0)], [mark(1)], [mark(2)]], prob=[0.2, 0.3, 0.5])
    draws = []
    for _ in range(2):
        np.random.seed(7)  # what mmengine's worker seeding does
        draws.append([t({})["branches"][0] for _ in range(50)])
    assert draws[0] == draws[1]
    np.random.seed(7)
    assert draws[0] == [int(np.random.choice(3, p=[0.2, 0.3, 0.5])) for _ in range(50)]  # one draw per call


def test_every_branch_is_taken_with_its_probability():
    n = 6000
    t = RandomChoice([[mark(0)], [mark(1)]], prob=[0.25, 0.75], seed=0)
    taken = np.array([t({})["branches"] for _ in range(n)])
    assert taken.shape == (n, 1)  # exactly one pipeline per call
    assert abs(np.mean(taken == 0) - 0.25) < 0.02 and abs(np.mean(taken == 1) - 0.75) < 0.02
    uniform = RandomChoice([[mark(0)], [mark(1)], [mark(2)]], seed=1)
    counts = np.bincount([uniform({})["branches"][0] for _ in range(n)], minlength=3) / n
    assert np.allclose(counts, 1 / 3, atol=0.02)
    never = RandomChoice([[mark(0)], [mark(1)]], prob=[1.0, 0.0], seed=2)
    assert {never({})["branches"][0] for _ in range(200)} == {0}


def test_empty_pipeline_is_the_identity_and_none_ends_it():
    res = coded_results(4, 5)
    out = RandomChoice([[]])(res)
    assert out is res and np.array_equal(out["gt_pan_seg"], coded_results(4, 5)["gt_pan_seg"])
    assert RandomChoice([[lambda r: None, mark(1)]])({}) is None


@pytest.mark.parametrize("kwargs, message", [
    (dict(transforms=[]), "non-empty list of pipelines"),
    (dict(transforms=dict(type="RandomFlip")), "non-empty list of pipelines"),
    (dict(transforms=[dict(type="RandomFlip")]), "pipeline 0 must be a list"),
    (dict(transforms=[[], []], prob=[1.0]), "prob has 1 values for 2 pipelines"),
    (dict(transforms=[[], []], prob=[0.5, 0.4]), "sum to 1"),
    (dict(transforms=[[], []], prob=[1.5, -0.5]), "non-negative"),
])
def test_bad_config_raises_a_clear_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TRANSFORMS.build(dict(type="RandomChoice", **kwargs))


# --- the crop branch keeps every target aligned -------------------------------------------------------
def test_absolute_range_crop_keeps_targets_aligned():
    h, w = 30, 40
    for seed in range(25):
        out = RandomChoice([[dict(type="RandomCrop", crop_size=(12, 25), crop_type="absolute_range")]],
                           seed=seed)(coded_results(h, w))
        ch, cw = out["gt_pan_seg"].shape
        assert 12 <= ch <= 25 and 12 <= cw <= 25
        y0, x0 = divmod(int(out["gt_pan_seg"][0, 0]) - 1, w)
        expect = coded_results(h, w)["gt_pan_seg"][y0:y0 + ch, x0:x0 + cw]
        assert np.array_equal(out["gt_pan_seg"], expect)  # one rectangle of the source
        assert_aligned(out)


def test_detr_crop_branch_keeps_targets_aligned():
    """The official crop branch (sizes scaled down), nearest interpolation so the image is exact."""
    branch = [
        dict(type="ResizeShortestEdge", short_edge_length=[40, 50, 60], sample_style="choice", interp="nearest"),
        dict(type="RandomCrop", crop_size=(38, 60), crop_type="absolute_range"),
        dict(type="ResizeShortestEdge", short_edge_length=[48, 64, 80], max_size=133, sample_style="choice",
             interp="nearest"),
    ]
    t = RandomChoice([[dict(type="RandomFlip", prob=1.0)], branch], prob=[0.0, 1.0], seed=5)
    h, w = 45, 70
    for _ in range(20):
        out = t(coded_results(h, w))
        assert min(out["img_shape"]) in (48, 64, 80) and max(out["img_shape"]) <= 133
        assert out.get("flip", False) is False  # the other branch never ran
        assert_aligned(out)
        rows, cols = np.divmod(out["gt_pan_seg"] - 1, w)
        # a crop of the resized image: the sources form a rectangle, monotone in both directions
        assert (np.diff(rows, axis=0) >= 0).all() and (np.diff(cols, axis=1) >= 0).all()
        assert (rows[:, :1] == rows).all() and (cols[:1] == cols).all()


def test_maskformer_coco_panoptic_choice_builds_and_applies_both_branches():
    step = next(s for s in load_config(MF_COCO).train_dataloader.dataset.pipeline if s["type"] == "RandomChoice")
    t = TRANSFORMS.build(dict(step, seed=0))
    assert isinstance(t, RandomChoice) and t.prob == (0.5, 0.5)
    plain, crop = t.transforms
    assert [type(s) for s in plain] == [ResizeShortestEdge]
    assert [type(s) for s in crop] == [ResizeShortestEdge, RandomCrop, ResizeShortestEdge]
    full_view = set()
    for _ in range(40):
        out = t(coded_results(300, 400))
        assert min(out["img_shape"]) in range(480, 801, 32) and max(out["img_shape"]) <= 1333
        pan = out["gt_pan_seg"]
        assert np.array_equal(out["gt_sem_seg"], pan % 5)
        for k, mask in enumerate(out["gt_masks"]):
            assert np.array_equal(mask, out["gt_sem_seg"] == k)
        full_view.add(len(np.unique(pan)) == 300 * 400)  # upscaled whole image, or a crop of it
    assert full_view == {True, False}  # both branches were taken
