"""Run a model on images and write overlays (palette colours, legend) and the raw results.

Usage: python tools/infer.py CONFIG CHECKPOINT IMAGE_OR_DIR [...] --out DIR [--score-thr 0.5] [--skip-bad-images]

Inputs: image files, folders (every image file below them: .jpg .jpeg .png .bmp .tif .tiff .webp) and
glob patterns (``'photos/*.jpg'``, expanded here when the shell did not). Outputs keep each image's path
relative to the deepest folder common to all inputs, without the extension, so that ``a/img.jpg`` and
``b/img.jpg`` give ``out/a/img_*`` and ``out/b/img_*``; two inputs that would still share a name (``img.jpg``
and ``img.png`` in one folder) get their extension appended (``img_png_*``). Per image ``<name>``:
``<name>_semantic.png`` / ``<name>_panoptic.png`` / ``<name>_instances.png`` (overlays, for the results the
config asks for), ``<name>_sem_seg.png`` (uint16 class ids), ``<name>_pan_seg.png`` (uint16 segment ids,
0 = void) and ``<name>.json`` (segments_info, and the instances with score, label, class name and a COCO
RLE mask). An image that cannot be decoded stops the run naming the file, unless ``--skip-bad-images``
(then it is reported, counted, and the exit status is 1).

Memory: ``--chunk-elements N`` (default 2**23) is handed to the postprocessor (``MaskFormerInference``):
an image whose full-resolution maps would hold more than N values is post-processed in bands of rows
from the model-resolution logits (same results; a 4000x3000 photo in under 2 GiB, docs/reliability.md);
0 computes every image in one piece. The instance masks come one per query (``instance_masks="by_query"``:
the classes of one query share its mask; 1 byte per pixel), each written to the JSON as COCO RLE.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
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


class QueryMasks:
    """The per-instance masks of an ``instance_masks="by_query"`` result (``query_masks [U, H, W]``,
    ``mask_index [N]``) as a sequence of ``[H, W]`` views, without building ``[N, H, W]``."""

    def __init__(self, query_masks, mask_index) -> None:  # noqa: ANN001
        self.query_masks, self.mask_index = query_masks, mask_index

    def __len__(self) -> int:
        return len(self.mask_index)

    def __getitem__(self, i: int):  # noqa: ANN204
        return self.query_masks[int(self.mask_index[i])]

    def __iter__(self):  # noqa: ANN204
        return (self[i] for i in range(len(self)))


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
        masks = ins["masks"] if "masks" in ins else QueryMasks(ins["query_masks"], ins["mask_index"])
        instance_overlay(image, dict(ins, masks=masks), classes, palette, score_thr).save(out / f"{stem}_instances.png")
        record["instances"] = [
            {"score": float(s), "label": int(lab), "category": classes[int(lab)], "mask_rle": _rle(m.numpy())}
            for s, lab, m in zip(ins["scores"], ins["labels"], masks)
        ]
        written.append(out / f"{stem}_instances.png")
    (out / f"{stem}.json").write_text(json.dumps(record, indent=1))
    return written + [out / f"{stem}.json"]


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def expand_inputs(args: list[str]) -> list[Path]:
    """Files, folders (their image files, recursively, sorted) and glob patterns -> image paths, each once."""
    paths: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"folder {arg} holds no image files ({' '.join(IMAGE_SUFFIXES)}).")
            paths += found
        elif path.is_file():
            paths.append(path)
        elif glob.has_magic(arg):
            found = sorted(Path(p) for p in glob.glob(arg, recursive=True) if Path(p).is_file())
            if not found:
                raise FileNotFoundError(f"pattern {arg} matches no file.")
            paths += found
        else:
            raise FileNotFoundError(
                f"{arg} does not exist; pass image files, folders of images or a glob pattern ('photos/*.jpg')."
            )
    return list(dict.fromkeys(p.resolve() for p in paths))


def output_names(paths: list[Path]) -> list[str]:
    """A distinct output name per image: its path relative to the inputs' common folder, without the
    extension (with it, ``img_png``, where two inputs would collide)."""
    root = Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else Path()
    names = [str(p.relative_to(root).with_suffix("")) for p in paths]
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return [f"{n}_{p.suffix.lstrip('.').lower()}" if counts[n] > 1 else n for n, p in zip(names, paths)]


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (0: no chunking), got {value}")
    return value


def set_chunk_elements(model, chunk_elements: int) -> None:
    """Hand ``--chunk-elements`` to the model's postprocessor, with one instance mask per query (this tool
    reads each instance's mask once: RLE, overlay); say so when it computes in one piece anyway."""
    post = getattr(model, "postprocessor", None)
    if hasattr(post, "instance_masks"):
        post.instance_masks = "by_query"
    if hasattr(post, "chunk_elements"):
        post.chunk_elements = chunk_elements
    elif chunk_elements:
        print(f"note: the postprocessor {type(post).__name__} has no chunk_elements; every image is "
              "post-processed in one piece", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Inference on images with overlays and raw results.")
    p.add_argument("config")
    p.add_argument("checkpoint")
    p.add_argument("images", nargs="+", help="image files, folders of images or glob patterns")
    p.add_argument("--out", required=True)
    p.add_argument("--score-thr", type=float, default=0.5, help="instances drawn above this score")
    p.add_argument("--device", default="cpu")
    p.add_argument("--chunk-elements", type=_non_negative_int, default=2**23,
                   help="post-process images whose full-size maps exceed N values in bands of rows (0: one piece)")
    p.add_argument("--skip-bad-images", action="store_true",
                   help="report and skip images that cannot be decoded (exit status 1) instead of stopping")
    args = p.parse_args(argv)
    paths = expand_inputs(args.images)
    model = init_model(args.config, args.checkpoint, device=args.device)
    set_chunk_elements(model, args.chunk_elements)
    meta = predictor_of(model).meta  # the dataset metadata init_model applied
    classes = list(meta.get("classes") or [f"class_{i}" for i in range(model.num_classes)])
    palette = palette_for(len(classes), meta.get("palette"))
    out = Path(args.out)
    skipped = []
    for path, name in zip(paths, output_names(paths)):
        try:
            image, _ = _as_rgb_array(path)
        except ValueError as err:
            if not args.skip_bad_images:
                raise
            skipped.append(path)
            print(f"skipped {path}: {err}", file=sys.stderr)
            continue
        result = inference(model, image)
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        for f in write_result(out, name, image, result, classes, palette, args.score_thr):
            print(f"wrote {f}")
    if skipped:
        print(f"skipped {len(skipped)} of {len(paths)} images that could not be decoded", file=sys.stderr)
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
