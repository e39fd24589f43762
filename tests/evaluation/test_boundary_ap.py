"""Boundary AP: the boundary band, boundary IoU and AP by hand, and equal to pycocotools' mask AP when
the band covers whole masks."""
from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from scipy import ndimage
from test_coco_metric import CAT_IDS, make_coco, rle_of

from segformers.evaluation import CocoInstanceMetric
from segformers.evaluation.boundary_ap import mask_to_boundary
from segformers.evaluation.coco_metric import coco_mask_eval

H = W = 20  # diagonal 28.3: dilation ratio 0.02 -> d = round(0.57) = 1 pixel


def square(y: int, x: int, side: int = 10, shape=(H, W)) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[y:y + side, x:x + side] = True
    return m


def reference_boundary(mask: np.ndarray, d: int) -> np.ndarray:
    """The definition read literally: pad the image with background, erode d times by 3x3, subtract."""
    padded = np.pad(mask.astype(bool), 1)
    eroded = ndimage.binary_erosion(padded, np.ones((3, 3), bool), iterations=d, border_value=0)
    return (padded & ~eroded)[1:-1, 1:-1]


def test_boundary_band_by_hand():
    ring = square(5, 5) & ~square(6, 6, side=8)  # the 1-pixel ring of a 10x10 square: 36 pixels
    assert np.array_equal(mask_to_boundary(square(5, 5)), ring) and ring.sum() == 36
    wide = mask_to_boundary(square(5, 5), dilation_ratio=2 / np.hypot(H, W))  # d = 2
    assert np.array_equal(wide, square(5, 5) & ~square(7, 7, side=6)) and wide.sum() == 64
    # the image border counts as contour: the whole 4x4 image (d = max(1, round(0.11)) = 1) keeps its rim
    assert mask_to_boundary(np.ones((4, 4), bool)).tolist() == [[1, 1, 1, 1], [1, 0, 0, 1], [1, 0, 0, 1], [1, 1, 1, 1]]
    assert np.array_equal(mask_to_boundary(square(5, 5), dilation_ratio=1.0), square(5, 5))  # the whole mask
    assert mask_to_boundary(np.zeros((6, 6))).sum() == 0


@pytest.mark.parametrize("seed", range(3))
def test_boundary_band_matches_the_literal_definition(seed):
    rng = np.random.default_rng(seed)
    mask = ndimage.binary_opening(rng.random((37, 53)) > 0.45)  # blobs, some touching the border
    mask[0, 10:20] = True
    for ratio in (0.02, 0.05, 0.1):
        d = max(1, int(round(ratio * np.hypot(37, 53))))
        assert np.array_equal(mask_to_boundary(mask, ratio).astype(bool), reference_boundary(mask, d)), ratio


def _coco_file(tmp_path, masks: list[np.ndarray], crowd: list[int]) -> COCO:
    anns = [dict(id=i + 1, image_id=1, category_id=1, iscrowd=c, segmentation=rle_of(m), area=int(m.sum()),
                 bbox=[0, 0, W, H]) for i, (m, c) in enumerate(zip(masks, crowd))]
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(dict(images=[dict(id=1, height=H, width=W, file_name="1.jpg")], annotations=anns,
                                    categories=[dict(id=1, name="thing")])))
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def _ap(coco: COCO, dets: list[tuple[np.ndarray, float]], ratio=None) -> float:
    detections = [dict(image_id=1, category_id=1, segmentation=rle_of(m), score=s) for m, s in dets]
    return coco_mask_eval(coco, detections, [1], dilation_ratio=ratio)[0].stats[0]


def test_a_one_pixel_shift_by_hand(tmp_path):
    """Ground truth: the 10x10 square at (5, 5); detection: the same square one column to the right.
    Mask IoU 90/110 = 0.82 matches at the 7 thresholds 0.50..0.80: mask AP 0.7. Boundary rings of 36 pixels
    share the top and bottom rows' 9 common columns: boundary IoU 18 / (36 + 36 - 18) = 1/3 < 0.5: AP 0."""
    coco = _coco_file(tmp_path, [square(5, 5)], [0])
    assert _ap(coco, [(square(5, 6), 0.9)]) == pytest.approx(0.7)
    assert _ap(coco, [(square(5, 6), 0.9)], ratio=0.02) == pytest.approx(0.0)
    assert _ap(coco, [(square(5, 5), 0.9)], ratio=0.02) == pytest.approx(1.0)


def test_crowd_regions_keep_the_mask_iou(tmp_path):
    """A detection inside a crowd region is ignored (not a false positive) by its mask overlap alone,
    although its boundary overlaps the crowd's ring only partly; the other detection finds the thing."""
    crowd_region = np.zeros((H, W), bool)
    crowd_region[:, 10:] = True
    coco = _coco_file(tmp_path, [square(2, 0, side=8), crowd_region], [0, 1])
    dets = [(square(2, 0, side=8), 0.5), (square(5, 11, side=6), 0.9)]
    assert _ap(coco, dets, ratio=0.02) == pytest.approx(1.0) == _ap(coco, dets)


def test_equals_mask_ap_when_the_band_covers_whole_masks(tmp_path):
    ann_file, preds = make_coco(tmp_path, seed=3)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(ann_file)
    detections = [dict(image_id=i, category_id=CAT_IDS[label], segmentation=rle_of(m), score=s)
                  for i, p in preds.items()
                  for m, label, s in zip(p["masks"].numpy(), p["labels"].tolist(), p["scores"].tolist())]
    mask = coco_mask_eval(coco, [dict(d) for d in detections], sorted(preds))[0].stats
    boundary = coco_mask_eval(coco, [dict(d) for d in detections], sorted(preds), dilation_ratio=1.0)[0].stats
    thin = coco_mask_eval(coco, [dict(d) for d in detections], sorted(preds), dilation_ratio=0.02)[0].stats
    assert np.array_equal(boundary, mask) and 0.2 < mask[0] < 1.0
    assert thin[0] < mask[0]  # the shifted predictions lose more at the boundary


def test_the_metric_reports_boundary_ap_when_asked(tmp_path):
    ann_file, preds = make_coco(tmp_path)
    samples = [dict(img_id=i, pred=dict(instances=p)) for i, p in preds.items()]
    plain, both = CocoInstanceMetric(ann_file=ann_file), CocoInstanceMetric(ann_file=ann_file, boundary_ap=True)
    for metric in (plain, both):
        metric.dataset_meta = dict(cat_ids=CAT_IDS)
        metric.process({}, samples)
    a, b = plain.compute_metrics(plain.results), both.compute_metrics(both.results)
    assert set(b) == set(a) | {f"{k}_boundary" for k in ("AP", "AP50", "AP75", "APs", "APm", "APl")}
    assert all(b[k] == a[k] for k in a) and b["AP_boundary"] < b["AP"]
    with pytest.raises(ValueError, match="dilation_ratio must be > 0"):
        CocoInstanceMetric(ann_file=ann_file, boundary_ap=True, dilation_ratio=0)
