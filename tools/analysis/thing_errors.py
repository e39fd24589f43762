"""Where a model loses its things: missed masks, wrong classes, or ranking (COCO instance ground truth).

Usage: python tools/analysis/thing_errors.py CONFIG CHECKPOINT [--data data/toy/coco] [--split val2017]
                                             [--num N] [--iou 0.5]

For every non-crowd ground-truth instance: the best mask IoU among the instance predictions (any
class, any score) and among the panoptic thing segments, and whether that panoptic segment has the
right class. Then COCO mask AP with categories (the usual number) and without (``useCats=0``): when
the two are close, classification is not what holds AP back. Sizes follow COCO (small < 32^2 pixels);
"tiny" (< 16^2) is the part of the small ones hardest to find.
Last, the semantic output's pixel confusion of the thing classes: where the pixels of each thing class
go (percent of its ground-truth pixels, non-crowd instances).
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from segformers.apis import init_model, inference, predictor_of  # noqa: E402
from segformers.evaluation.coco_metric import CocoInstanceMetric, coco_mask_eval, encode_instances  # noqa: E402


def iou_matrix(gt: np.ndarray, preds: np.ndarray) -> np.ndarray:
    """Mask IoU of ground truth ``[G, H, W]`` against predictions ``[P, H, W]`` -> ``[G, P]``."""
    pixels = int(np.prod(gt.shape[1:]))  # not -1: reshape cannot infer it for zero masks
    g, p = (x.reshape(len(x), pixels).astype(np.float32) for x in (gt, preds))
    inter = g @ p.T
    union = g.sum(1)[:, None] + p.sum(1)[None] - inter
    return inter / np.maximum(union, 1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config"), ap.add_argument("checkpoint")
    ap.add_argument("--data", default="data/toy/coco", help="COCO root with annotations/instances_<split>.json")
    ap.add_argument("--split", default="val2017")
    ap.add_argument("--num", type=int, default=0, help="first N images (0: all)")
    ap.add_argument("--iou", type=float, default=0.5)
    args = ap.parse_args(argv)
    root = Path(args.data)
    model = init_model(args.config, args.checkpoint)
    # the instance metric's own label -> category id mapping and detection records
    metric = CocoInstanceMetric(ann_file=str(root / "annotations" / f"instances_{args.split}.json"))
    metric.dataset_meta = predictor_of(model).meta
    coco, cat_ids = metric.coco, metric.label_to_category()
    img_ids = sorted(coco.getImgIds())[: args.num or None]
    images = [np.asarray(Image.open(root / args.split / coco.imgs[i]["file_name"]).convert("RGB")) for i in img_ids]
    results = inference(model, images, batch_size=8)
    rows = []
    classes = list(metric.dataset_meta["classes"])
    confusion = np.zeros((len(classes), len(classes)), np.int64)
    for img_id, res in zip(img_ids, results):
        anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=[img_id])) if not a["iscrowd"]]
        size = (coco.imgs[img_id]["height"], coco.imgs[img_id]["width"])
        gt = np.stack([coco.annToMask(a) for a in anns]) if anns else np.zeros((0, *size), np.uint8)
        inst = res["instances"]
        segs = [s for s in res["segments_info"] if s["isthing"]]
        pan_map = res["panoptic_seg"].numpy()
        pan = np.stack([pan_map == s["id"] for s in segs]) if segs else np.zeros((0, *size), bool)
        any_iou, pan_iou = iou_matrix(gt, inst["masks"].numpy()), iou_matrix(gt, pan)
        sem = res["sem_seg"].numpy()
        for k, a in enumerate(anns):
            confusion[cat_ids.index(a["category_id"])] += np.bincount(sem[gt[k] > 0], minlength=len(classes))
            best_any = any_iou[k].max() if any_iou.shape[1] else 0.0
            j = int(pan_iou[k].argmax()) if len(segs) else -1
            right = j >= 0 and cat_ids[segs[j]["category_id"]] == a["category_id"]
            rows.append((a["area"], best_any, pan_iou[k, j] if j >= 0 else 0.0, right))
    detections = metric.to_detections([encode_instances(r["instances"]) for r in results], img_ids)
    report(np.array(rows, dtype=float).reshape(-1, 4), args.iou)
    aps = [coco_mask_eval(coco, copy.deepcopy(detections), img_ids, use_cats)[0].stats[0]
           if detections else 0.0 for use_cats in (True, False)]
    print(f"mask AP {100 * aps[0]:.1f}, class-agnostic mask AP {100 * aps[1]:.1f} ({len(img_ids)} images)")
    print_confusion(confusion, classes)


def report(rows: np.ndarray, thr: float) -> None:
    """Print recall at IoU ``thr`` for all / small / tiny (a part of small) / larger things."""
    print(f"{'things':<14}{'n':>6}{'any query':>11}{'panoptic':>10}{'+ class':>9}{'any-q IoU':>11}")
    sizes = (("all", slice(None)), ("small (<32^2)", rows[:, 0] < 1024), ("tiny (<16^2)", rows[:, 0] < 256),
             ("larger", rows[:, 0] >= 1024))
    for name, sel in sizes:
        r = rows[sel]
        if not len(r):
            continue
        hit = r[:, 2] >= thr
        print(f"{name:<14}{len(r):>6}{(r[:, 1] >= thr).mean():>11.3f}{hit.mean():>10.3f}"
              f"{(hit & (r[:, 3] > 0)).mean():>9.3f}{r[:, 1].mean():>11.3f}")


def print_confusion(confusion: np.ndarray, classes: list[str]) -> None:
    """Rows with ground-truth pixels of ``confusion [K, K]`` (gt x predicted counts) in percent of the row."""
    print("pixels of each thing class (rows) predicted as (columns), %")
    print(f"{'':<12}" + "".join(f"{c[:9]:>10}" for c in classes))
    for name, row in zip(classes, confusion):
        if row.sum():
            print(f"{name[:11]:<12}" + "".join(f"{100 * v / row.sum():>10.1f}" for v in row))


if __name__ == "__main__":
    main()
