#!/usr/bin/env python
"""Write images with their targets drawn, as the model sees them after the dataset pipeline.

    python tools/browse_dataset.py configs/_base_/datasets/toy_panoptic.py --num 8
    python tools/browse_dataset.py CONFIG --phase val --output-dir work_dirs/browse

Each output PNG shows the pipeline's image (left) and its targets (right): one colour per segment
(the class colour of the dataset palette, lightened per instance), white outlines, the class
name at the segment's centre and ignored pixels (``gt_sem_seg == ignore_index``) in dark grey.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmengine.config import Config, DictAction  # noqa: E402

import segformers.data  # noqa: E402,F401  (registers datasets and transforms)
from segformers.registry import DATASETS  # noqa: E402

IGNORE_COLOR = (40, 40, 40)


def draw_targets(image: np.ndarray, sample, metainfo: dict, alpha: float = 0.55) -> np.ndarray:
    """RGB uint8 ``[H, 2W, 3]``: the image and its targets side by side."""
    h, w = image.shape[:2]
    overlay = image.astype(np.float32).copy()
    palette = np.array(metainfo.get("palette") or [[255, 0, 0]], dtype=np.float32)
    classes = metainfo.get("classes", ())
    labels = sample.gt.labels.numpy()
    masks = sample.gt.masks.numpy().astype(bool)
    rng = np.random.RandomState(0)
    for label, mask in zip(labels, masks):
        color = palette[int(label) % len(palette)]
        color = np.clip(color + rng.randint(-40, 41, 3), 0, 255)  # tell instances of a class apart
        overlay[mask] = (1 - alpha) * overlay[mask] + alpha * color
    if "gt_sem_seg" in sample:
        ignored = sample.gt_sem_seg.numpy() == metainfo.get("ignore_index", 255)
        overlay[ignored] = IGNORE_COLOR
    canvas = np.clip(overlay, 0, 255).astype(np.uint8)
    for label, mask in zip(labels, masks):
        if not mask.any():
            continue
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(canvas, contours, -1, (255, 255, 255), 1)
        ys, xs = np.nonzero(mask)
        name = classes[int(label)] if int(label) < len(classes) else str(int(label))
        scale = max(0.3, min(h, w) / 600)
        cv2.putText(canvas, name, (int(xs.mean()), int(ys.mean())), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([image, canvas], axis=1)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("config", help="config file with train/val/test dataloaders")
    parser.add_argument("--output-dir", default="work_dirs/browse_dataset", help="where to write the PNGs")
    parser.add_argument("--num", type=int, default=10, help="number of samples to draw (default 10)")
    parser.add_argument("--phase", default="train", choices=["train", "val", "test"], help="which dataloader")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, help="override config keys, key=value")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[str]:
    """Draw the first ``--num`` samples of the chosen dataloader; returns the written paths."""
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    dataset = DATASETS.build(cfg[f"{args.phase}_dataloader"]["dataset"])
    metainfo = dataset.metainfo
    os.makedirs(args.output_dir, exist_ok=True)
    written = []
    for i in range(min(args.num, len(dataset))):
        item = dataset[i]
        image = item["inputs"].permute(1, 2, 0).numpy()
        sample = item["data_samples"]
        name = osp.splitext(osp.basename(sample.metainfo.get("img_path", f"{i}")))[0]
        path = osp.join(args.output_dir, f"{i:04d}_{name}.png")
        cv2.imwrite(path, draw_targets(image, sample, metainfo)[:, :, ::-1])
        written.append(path)
    print(f"wrote {len(written)} images to {args.output_dir}")
    return written


if __name__ == "__main__":
    main()
