"""PanopticMetric agrees with cityscapesscripts' panoptic evaluation (a port of COCO panopticapi)."""
import os.path as osp

import numpy as np
import pytest
import torch
from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import evaluatePanoptic

from segformers.evaluation import CityscapesPanopticMetric, PanopticMetric
from segformers.evaluation.panoptic_metric import pq_image_stats

from eval_synthetic import CLASSES, NAMES, make_dataset, write_cityscapes_panoptic

META = {"classes": NAMES, "thing_classes": ["person", "car"]}


def dataset_segments(segments):
    """As the datasets give them: the original category id plus the contiguous ``label``."""
    return [dict(s, label=s["category_id"], category_id=CLASSES[s["category_id"]][1]) for s in segments]


def samples_of(items):
    return [
        {
            "img_path": f"leftImg8bit/val/city/{stem}_leftImg8bit.png",
            "pred": {"panoptic_seg": (torch.from_numpy(pm), ps)},
            "gt_panoptic": {"pan_seg": torch.from_numpy(gm), "segments_info": dataset_segments(gs)},
        }
        for stem, gm, gs, pm, ps in items
    ]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("cs_panoptic"))
    items = make_dataset(seed=0, n=8)
    gt_json, gt_folder = write_cityscapes_panoptic(root, items, "gt")
    pred_json, pred_folder = write_cityscapes_panoptic(root, items, "pred")
    res = evaluatePanoptic(gt_json, gt_folder, pred_json, pred_folder, osp.join(root, "res.json"))
    return items, res, gt_json, gt_folder


def test_matches_cityscapes_reference(reference):
    items, ref, _, _ = reference
    metric = PanopticMetric(classwise=True)
    metric.dataset_meta = META
    metric.process({}, samples_of(items))
    out = metric.evaluate(len(items))
    for key, suffix in (("All", ""), ("Things", "_th"), ("Stuff", "_st")):
        for m in ("pq", "sq", "rq"):
            assert out[f"panoptic_seg/{m.upper()}{suffix}"] == pytest.approx(100 * ref[key][m], abs=1e-6)
    for label_id, per in ref["per_class"].items():
        name = next(n for n, lid, _ in CLASSES if str(lid) == str(label_id))
        assert out[f"panoptic_seg/PQ-{name}"] == pytest.approx(100 * per["pq"], abs=1e-6)
    assert 20 < out["panoptic_seg/PQ"] < 90  # a non-trivial mix of matches and errors


def test_cityscapes_wrapper_matches_reference(reference):
    items, ref, gt_json, gt_folder = reference
    metric = CityscapesPanopticMetric(gt_json=gt_json, gt_folder=gt_folder)
    metric.dataset_meta = META
    metric.process({}, samples_of(items[:5]))
    metric.process({}, samples_of(items[5:]))
    out = metric.evaluate(len(items))
    assert out["cityscapes/PQ"] == pytest.approx(100 * ref["All"]["pq"], abs=1e-6)
    assert out["cityscapes/RQ_th"] == pytest.approx(100 * ref["Things"]["rq"], abs=1e-6)


def test_thing_classes_fall_back_to_segment_flags(reference):
    items = reference[0]
    with_meta, with_flags, without = PanopticMetric(), PanopticMetric(), PanopticMetric(num_classes=len(NAMES))
    with_meta.dataset_meta = META
    with_flags.dataset_meta = {"classes": NAMES, "is_thing": [bool(c[2]) for c in CLASSES]}
    for m in (with_meta, with_flags, without):
        m.process({}, samples_of(items))
    reference = with_meta.evaluate(len(items))
    assert reference == with_flags.evaluate(len(items)) == without.evaluate(len(items))


def test_void_crowd_and_matching_rules():
    gt = np.zeros((4, 10), np.int64)
    gt[:, 0:4] = 1  # thing, class 0
    gt[:, 4:7] = 2  # crowd of class 0
    # columns 7..9 are void
    gt_segs = [{"id": 1, "category_id": 0, "iscrowd": 0}, {"id": 2, "category_id": 0, "iscrowd": 1}]
    pred = np.zeros((4, 10), np.int64)
    pred[:, 0:3] = 5  # IoU 3/4 with segment 1 -> TP
    pred[:, 3:6] = 6  # unmatched class 0: 1 col on gt 1, 2 on crowd -> ignored (2/3 > 0.5)
    pred[:, 6:10] = 7  # unmatched class 1: 1 col crowd (other class), 3 void -> ignored (3/4 > 0.5)
    pred_segs = [{"id": i, "category_id": c, "isthing": True} for i, c in ((5, 0), (6, 0), (7, 1))]
    stats = pq_image_stats(torch.from_numpy(pred), pred_segs, torch.from_numpy(gt), gt_segs, 2)
    np.testing.assert_allclose(stats, [[1, 0, 0, 0.75], [0, 0, 0, 0]])
    pred[:, 6:10] = 6  # now segment 6 covers cols 3..9: 1 gt + 3 crowd + 3 void of 7 -> 6/7 ignored
    pred_segs = pred_segs[:2]
    stats = pq_image_stats(torch.from_numpy(pred), pred_segs, torch.from_numpy(gt), gt_segs, 2)
    np.testing.assert_allclose(stats, [[1, 0, 0, 0.75], [0, 0, 0, 0]])


def test_inconsistent_segments_raise():
    id_map = torch.tensor([[1, 1], [2, 0]])
    gt_segs = [{"id": 1, "category_id": 0, "iscrowd": 0}]
    with pytest.raises(ValueError, match=r"ids \[2\] are in the id map"):
        pq_image_stats(id_map, [{"id": 1, "category_id": 0}], id_map, gt_segs, 2)
    with pytest.raises(ValueError, match="outside"):
        pq_image_stats(id_map, [{"id": 1, "category_id": 3}, {"id": 2, "category_id": 0}], id_map, gt_segs, 2)
