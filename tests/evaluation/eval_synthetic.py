"""Synthetic panoptic ground truth / predictions and their Cityscapes-format files (test helper)."""
import json
import os
import os.path as osp

import numpy as np
from PIL import Image

# contiguous id -> (Cityscapes name, label id, isthing)
CLASSES = [("road", 7, 0), ("sidewalk", 8, 0), ("building", 11, 0), ("vegetation", 21, 0),
           ("person", 24, 1), ("car", 26, 1)]
NAMES = [c[0] for c in CLASSES]
THINGS = [i for i, c in enumerate(CLASSES) if c[2]]
STUFF = [i for i, c in enumerate(CLASSES) if not c[2]]


def _rect(rng, h, w, lo, hi):
    rh, rw = rng.integers(lo, hi, size=2)
    y, x = rng.integers(0, h - rh), rng.integers(0, w - rw)
    return slice(y, y + rh), slice(x, x + rw)


def _segments(id_map, cats, crowd=()):
    present = set(np.unique(id_map).tolist()) - {0}
    return [{"id": i, "category_id": cats[i], "isthing": bool(CLASSES[cats[i]][2]), "iscrowd": int(i in crowd)}
            for i in sorted(present)]


def make_ground_truth(rng, h, w):
    """Stuff bands, a void box, thing boxes (one maybe crowd)."""
    id_map = np.zeros((h, w), np.int32)
    cats, next_id = {}, 1
    bands = np.sort(rng.choice(np.arange(4, h - 4), size=2, replace=False))
    for cls, (y0, y1) in zip(rng.permutation(STUFF)[:3], zip([0, *bands], [*bands, h])):
        id_map[y0:y1] = next_id
        cats[next_id], next_id = int(cls), next_id + 1
    for _ in range(rng.integers(3, 6)):
        id_map[_rect(rng, h, w, 5, 16)] = next_id
        cats[next_id], next_id = int(rng.choice(THINGS)), next_id + 1
    crowd = {next_id - 1} if rng.random() < 0.5 else set()
    id_map[_rect(rng, h, w, 3, 10)] = 0
    return id_map, _segments(id_map, cats, crowd)


def make_prediction(rng, gt_map, gt_segments):
    """Shifted, relabelled, partly erased copy of the ground truth plus spurious boxes."""
    h, w = gt_map.shape
    cats = {s["id"] + 100: s["category_id"] for s in gt_segments}
    pred = np.where(gt_map > 0, gt_map + 100, 0).astype(np.int32)
    for s in gt_segments:
        if s["isthing"] and rng.random() < 0.6:
            ys, xs = np.nonzero(gt_map == s["id"])
            dy, dx = rng.integers(-4, 5, size=2)
            pred[np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)] = s["id"] + 100
        if rng.random() < 0.15:
            cats[s["id"] + 100] = int(rng.integers(0, len(CLASSES)))
    pred[_rect(rng, h, w, 3, 12)] = 0
    for new_id in (200, 201, 202):
        pred[_rect(rng, h, w, 3, 12)] = new_id
        cats[new_id] = int(rng.integers(0, len(CLASSES)))
    return pred, [{k: v for k, v in s.items() if k != "iscrowd"} for s in _segments(pred, cats)]


def make_dataset(seed=0, n=6, h=40, w=48):
    """``n`` (stem, gt_map, gt_segments, pred_map, pred_segments) tuples."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        gt_map, gt_segs = make_ground_truth(rng, h, w)
        pred_map, pred_segs = make_prediction(rng, gt_map, gt_segs)
        items.append((f"city_000000_{i:06d}", gt_map, gt_segs, pred_map, pred_segs))
    return items


def id_to_rgb(id_map):
    ids = id_map.astype(np.uint32)
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], -1).astype(np.uint8)


def write_cityscapes_panoptic(root, items, which):
    """Write ``which`` ('gt' or 'pred') as Cityscapes panoptic PNGs + JSON; returns (json, folder)."""
    folder = osp.join(root, which)
    os.makedirs(folder, exist_ok=True)
    anns = []
    for stem, gt_map, gt_segs, pred_map, pred_segs in items:
        id_map, segs = (gt_map, gt_segs) if which == "gt" else (pred_map, pred_segs)
        Image.fromarray(id_to_rgb(id_map)).save(osp.join(folder, f"{stem}.png"))
        out = []
        for s in segs:
            rec = {"id": s["id"], "category_id": CLASSES[s["category_id"]][1]}
            if which == "gt":
                rec.update(iscrowd=s["iscrowd"], area=int((id_map == s["id"]).sum()))
            out.append(rec)
        anns.append({"image_id": stem, "file_name": f"{stem}.png", "segments_info": out})
    content = {"annotations": anns,
               "categories": [{"id": lid, "name": n, "isthing": t} for n, lid, t in CLASSES],
               "images": [{"id": it[0], "file_name": f"{it[0]}.png"} for it in items]}
    path = osp.join(root, f"{which}.json")
    with open(path, "w") as f:
        json.dump(content, f)
    return path, folder
