"""Run a model on images and write overlays (palette colours, legend) and the raw results.

Usage: python tools/infer.py CONFIG CHECKPOINT IMAGE [IMAGE ...] --out DIR [--score-thr 0.5]

Per image ``<stem>``: ``<stem>_semantic.png`` / ``<stem>_panoptic.png`` / ``<stem>_instances.png``
(overlays, for the results the config asks for), ``<stem>_sem_seg.png`` (uint16 class ids),
``<stem>_pan_seg.png`` (uint16 segment ids, 0 = void) and ``<stem>.json`` (segments_info, and the
instances with score, label, class name and a COCO RLE mask).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segformers.apis import init_model, inference, predictor_of  # noqa: E402
from segformers.apis.inference import _as_rgb_array  # noqa: E402
from segformers.visualization import (  # noqa: E402
    instance_overlay, palette_for, panoptic_overlay, semantic_overlay,
)


def _rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")}


def write_result(out: Path, stem: str, image: np.ndarray, result: dict, classes: list, palette: np.ndarray,
                 score_thr: float) -> list[Path]:
    """Write the overlays and raw results of one image; returns the written paths."""
    written, record = [], {}
    if "sem_seg" in result:
        sem = result["sem_seg"].numpy()
        Image.fromarray(sem.astype(np.uint16)).save(out / f"{stem}_sem_seg.png")
        semantic_overlay(image, sem, classes, palette).save(out / f"{stem}_semantic.png")
        written += [out / f"{stem}_sem_seg.png", out / f"{stem}_semantic.png"]
    if "panoptic_seg" in result:
        pan = result["panoptic_seg"].numpy()
        Image.fromarray(pan.astype(np.uint16)).save(out / f"{stem}_pan_seg.png")
        panoptic_overlay(image, pan, result["segments_info"], classes, palette).save(out / f"{stem}_panoptic.png")
        record["segments_info"] = [dict(s, category=classes[s["category_id"]]) for s in result["segments_info"]]
        written += [out / f"{stem}_pan_seg.png", out / f"{stem}_panoptic.png"]
    if "instances" in result:
        ins = result["instances"]
        instance_overlay(image, ins, classes, palette, score_thr).save(out / f"{stem}_instances.png")
        record["instances"] = [
            {"score": float(s), "label": int(lab), "category": classes[int(lab)], "mask_rle": _rle(m.numpy())}
            for s, lab, m in zip(ins["scores"], ins["labels"], ins["masks"])
        ]
        written.append(out / f"{stem}_instances.png")
    (out / f"{stem}.json").write_text(json.dumps(record, indent=1))
    return written + [out / f"{stem}.json"]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Inference on images with overlays and raw results.")
    p.add_argument("config")
    p.add_argument("checkpoint")
    p.add_argument("images", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--score-thr", type=float, default=0.5, help="instances drawn above this score")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    model = init_model(args.config, args.checkpoint, device=args.device)
    meta = predictor_of(model).meta  # the dataset metadata init_model applied
    classes = list(meta.get("classes") or [f"class_{i}" for i in range(model.num_classes)])
    palette = palette_for(len(classes), meta.get("palette"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in args.images:
        image, _ = _as_rgb_array(path)
        result = inference(model, path)
        for f in write_result(out, Path(path).stem, image, result, classes, palette, args.score_thr):
            print(f"wrote {f}")


if __name__ == "__main__":
    main()
