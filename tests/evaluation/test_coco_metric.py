"""CocoInstanceMetric agrees with pycocotools' COCOeval used directly on the same predictions."""
import contextlib
import io
import json
import math

import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from segformers.evaluation import CocoInstanceMetric

CAT_IDS, NAMES, SIZE = [1, 3, 7], ["cat", "dog", "bird"], (128, 120)


def rle_of(mask):
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def box_mask(y, x, h, w):
    m = np.zeros(SIZE, bool)
    m[y:y + h, x:x + w] = True
    return m


def make_coco(tmp_path, seed=0):
    """Ground-truth JSON (small / medium / large objects, one crowd) and matching predictions."""
    rng = np.random.default_rng(seed)
    images, anns, preds = [], [], {}
    for img_id in (11, 12, 13):
        images.append({"id": img_id, "height": SIZE[0], "width": SIZE[1], "file_name": f"{img_id}.jpg"})
        objs = [(20, 20), (40, 40), (100, 100), (25, 35)]
        masks, labels, scores = [], [], []
        for j, (h, w) in enumerate(objs):
            y, x = rng.integers(0, SIZE[0] - h), rng.integers(0, SIZE[1] - w)
            label = (j + img_id) % 3
            gt = box_mask(y, x, h, w)
            crowd = int(j == 3 and img_id == 12)
            anns.append({"id": len(anns) + 1, "image_id": img_id, "category_id": CAT_IDS[label], "iscrowd": crowd,
                         "segmentation": rle_of(gt), "area": int(gt.sum()), "bbox": [int(x), int(y), int(w), int(h)]})
            if rng.random() < 0.85:
                dy, dx = rng.integers(-6, 7, size=2)
                masks.append(box_mask(max(y + dy, 0), max(x + dx, 0), h, w))
                labels.append(label if rng.random() < 0.8 else int(rng.integers(0, 3)))
                scores.append(float(rng.random()))
        for _ in range(2):  # false positives
            masks.append(box_mask(*rng.integers(0, 60, size=2), *rng.integers(10, 50, size=2)))
            labels.append(int(rng.integers(0, 3)))
            scores.append(float(rng.random()))
        preds[img_id] = {"masks": torch.from_numpy(np.stack(masks)), "labels": torch.tensor(labels),
                         "scores": torch.tensor(scores)}
    cats = [{"id": c, "name": n} for c, n in zip(CAT_IDS, NAMES)]
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return str(path), preds


def direct_pycocotools(ann_file, preds, cat_ids):
    results = []
    for img_id, p in preds.items():
        for m, label, score in zip(p["masks"].numpy(), p["labels"].tolist(), p["scores"].tolist()):
            results.append({"image_id": img_id, "category_id": cat_ids[label], "segmentation": rle_of(m),
                            "score": score})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_file)
        ev = COCOeval(gt, gt.loadRes(results), "segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def run_metric(ann_file, preds, meta):
    metric = CocoInstanceMetric(ann_file=ann_file, classwise=True)
    metric.dataset_meta = meta
    metric.process({}, [{"img_id": i, "pred": {"instances": p}} for i, p in preds.items()])
    return metric.evaluate(len(preds))


def test_matches_pycocotools(tmp_path):
    ann_file, preds = make_coco(tmp_path)
    out = run_metric(ann_file, preds, {"classes": NAMES})
    stats = direct_pycocotools(ann_file, preds, CAT_IDS)
    for key, value in zip(["AP", "AP50", "AP75", "APs", "APm", "APl"], stats[:6]):
        assert out[f"segm/{key}"] == pytest.approx(100 * value, abs=1e-6)
    assert 10 < out["segm/AP"] < 95 and out["segm/AP50"] > out["segm/AP75"]
    assert all(not math.isnan(out[f"segm/AP-{n}"]) for n in NAMES)


def test_category_ids_from_dataset_meta(tmp_path):
    ann_file, preds = make_coco(tmp_path, seed=1)
    # a panoptic-style dataset: 5 contiguous classes, the file's categories at positions 1, 3, 4
    remap = {0: 1, 1: 3, 2: 4}
    shifted = {i: dict(p, labels=torch.tensor([remap[int(v)] for v in p["labels"]])) for i, p in preds.items()}
    out = run_metric(ann_file, shifted, {"classes": ["a", "cat", "b", "dog", "bird"],
                                         "cat_ids": [90, 1, 91, 3, 7]})
    stats = direct_pycocotools(ann_file, preds, CAT_IDS)
    assert out["segm/AP"] == pytest.approx(100 * stats[0], abs=1e-6)


def test_wrong_size_and_missing_fields_raise(tmp_path):
    ann_file, preds = make_coco(tmp_path)
    metric = CocoInstanceMetric(ann_file=ann_file)
    small = {"masks": torch.zeros(1, 64, 60, dtype=torch.bool), "labels": torch.tensor([0]), "scores": torch.ones(1)}
    metric.process({}, [{"img_id": 11, "pred": {"instances": small}}])
    with pytest.raises(ValueError, match="original image size"):
        metric.compute_metrics(metric.results)
    with pytest.raises(KeyError, match="img_id"):
        metric.process({}, [{"pred": {"instances": small}}])
    empty = {"masks": torch.zeros(0, *SIZE, dtype=torch.bool), "labels": torch.zeros(0), "scores": torch.zeros(0)}
    metric = CocoInstanceMetric(ann_file=ann_file)
    metric.process({}, [{"img_id": 11, "pred": {"instances": empty}}])
    assert math.isnan(metric.compute_metrics(metric.results)["AP"])


def test_string_image_ids_are_matched_by_file_name(tmp_path):
    """ADE20K panoptic names its images ``ADE_val_...`` while the instance file numbers them."""
    ann_file, preds = make_coco(tmp_path, seed=2)
    metric = CocoInstanceMetric(ann_file=ann_file)
    samples = [{"img_id": f"{i}", "img_path": f"/data/images/{i}.jpg", "pred": {"instances": p}}
               for i, p in preds.items()]
    samples[0]["img_id"] = "ADE_val_00000011"  # not an id of the file: matched by the image path's stem
    metric.process({}, samples)
    out = metric.evaluate(len(preds))
    assert out["segm/AP"] == pytest.approx(100 * direct_pycocotools(ann_file, preds, CAT_IDS)[0], abs=1e-6)
    metric = CocoInstanceMetric(ann_file=ann_file)
    metric.process({}, [{"img_id": "ADE_val_9", "img_path": "/x/ADE_val_9.jpg", "pred": {"instances": preds[11]}}])
    with pytest.raises(KeyError, match="neither an image id nor a file name"):
        metric.compute_metrics(metric.results)


def test_class_agnostic_eval_ignores_the_category():
    """``coco_mask_eval(use_cats=False)``: a perfect mask with the wrong class counts; with classes it does not."""
    from segformers.evaluation.coco_metric import coco_mask_eval

    gt_mask = box_mask(10, 10, 40, 40)
    ann = {"id": 1, "image_id": 1, "category_id": CAT_IDS[0], "iscrowd": 0, "segmentation": rle_of(gt_mask),
           "area": int(gt_mask.sum()), "bbox": [10, 10, 40, 40]}
    coco = COCO()
    coco.dataset = {"images": [{"id": 1, "height": SIZE[0], "width": SIZE[1]}], "annotations": [ann],
                    "categories": [{"id": c, "name": n} for c, n in zip(CAT_IDS, NAMES)]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    det = {"image_id": 1, "category_id": CAT_IDS[1], "segmentation": rle_of(gt_mask), "score": 0.9}
    assert coco_mask_eval(coco, [dict(det)], [1])[0].stats[0] == 0.0
    assert coco_mask_eval(coco, [dict(det)], [1], use_cats=False)[0].stats[0] == pytest.approx(1.0)
