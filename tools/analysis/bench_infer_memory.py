"""Peak memory and time of ``tools/infer.py`` on one large synthetic photo, post-processed in bands
(``--chunk-elements``, default 2**23) and in one piece (``--chunk-elements 0``), and whether both wrote
the same files.

Usage: python tools/analysis/bench_infer_memory.py [--config CFG] [--checkpoint CKPT] [--sizes 4000x3000,2000x1500]
       [--one-piece-max-pixels 3200000] [--object-mask-threshold T] [--work DIR]

Each run is a fresh process (``--child``) that runs ``tools/infer.py``'s ``main`` and reports its own peak
RSS (``ru_maxrss``) and wall seconds. Without ``--checkpoint`` the model has random weights (seed 0),
written once to the work folder: memory and equality are what this measures, not quality. The image is
a deterministic mix of flat rectangles and noise (width x height as given). The one-piece run is skipped
for images above ``--one-piece-max-pixels`` (at 4000x3000 it needs about 19 GiB, issue #23: more than a
shared 23 GiB machine can lend safely); where both ran, their files are compared: PNGs pixel for pixel,
segments and instance RLE masks exactly, instance scores to float32 rounding. ``--object-mask-threshold``
runs a config derived from ``--config`` with that panoptic query threshold (random weights keep few queries
at the quick start's 0.5, so the panoptic comparison would compare nearly empty maps).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "configs/quickstart/mask2former_r18-tiny_2xb2-570s_toy-panoptic.py"


def synthetic_image(path: Path, width: int, height: int) -> Path:
    """A ``height x width`` RGB PNG: 40 flat rectangles over low-amplitude noise (seed 0)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    img = rng.integers(100, 140, (height, width, 3), dtype=np.uint8)
    for _ in range(40):
        y0, x0 = int(rng.integers(0, height)), int(rng.integers(0, width))
        h, w = int(rng.integers(height // 20, height // 3)), int(rng.integers(width // 20, width // 3))
        img[y0:y0 + h, x0:x0 + w] = rng.integers(0, 256, 3, dtype=np.uint8)
    Image.fromarray(img).save(path)
    return path


def random_checkpoint(config: str, path: Path) -> str:
    import torch

    from segformers.apis.model import build_model, load_config

    torch.manual_seed(0)
    torch.save({"state_dict": build_model(load_config(config)).state_dict()}, path)
    return str(path)


def child(config: str, checkpoint: str, image: str, out: str, chunk: int) -> None:
    """Run tools/infer.py in this process; print ``{"peak_rss_mib", "seconds"}`` as JSON on the last line."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("segformers_tools_infer", REPO / "tools" / "infer.py")
    infer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(infer)
    start = time.perf_counter()
    code = infer.main([config, checkpoint, image, "--out", out, "--chunk-elements", str(chunk)])
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"exit": code, "peak_rss_mib": round(peak_kib / 1024, 1), "seconds": round(seconds, 2)}))


def run_child(config: str, checkpoint: str, image: Path, out: Path, chunk: int) -> dict:
    cmd = [sys.executable, __file__, "--child", config, checkpoint, str(image), str(out), str(chunk)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def same_outputs(a: Path, b: Path) -> dict:
    """Compare two tools/infer.py output folders of one image."""
    from PIL import Image

    pngs = sorted(p.name for p in a.glob("*.png"))
    equal_png = all(np.array_equal(np.asarray(Image.open(a / n)), np.asarray(Image.open(b / n))) for n in pngs)
    ja, jb = (json.loads(next(d.glob("*.json")).read_text()) for d in (a, b))
    ia, ib = ja.get("instances", []), jb.get("instances", [])
    score_diff = max((abs(x["score"] - y["score"]) for x, y in zip(ia, ib)), default=0.0)
    return {"pngs": pngs, "pngs_equal": equal_png, "segments_equal": ja.get("segments_info") == jb.get("segments_info"),
            "segments": len(ja.get("segments_info", [])), "instances": len(ia),
            "instance_masks_equal": [x["mask_rle"] for x in ia] == [y["mask_rle"] for y in ib],
            "max_score_diff": score_diff}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(QUICKSTART))
    p.add_argument("--checkpoint", default=None, help="default: random weights (seed 0)")
    p.add_argument("--sizes", default="4000x3000,2000x1500", help="WIDTHxHEIGHT, comma-separated")
    p.add_argument("--one-piece-max-pixels", type=float, default=3.2e6)
    p.add_argument("--chunk-elements", type=int, default=2**23)
    p.add_argument("--object-mask-threshold", type=float, default=None)
    p.add_argument("--work", default="work_dirs/bench_infer_memory")
    p.add_argument("--child", nargs=5, metavar=("CONFIG", "CKPT", "IMAGE", "OUT", "CHUNK"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        config, ckpt, image, out, chunk = args.child
        return child(config, ckpt, image, out, int(chunk))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.object_mask_threshold is not None:
        derived = work / "config.py"
        derived.write_text(f"_base_ = [{str(Path(args.config).resolve())!r}]\n"
                           f"model = dict(postprocessor=dict(object_mask_threshold={args.object_mask_threshold!r}))\n")
        args.config = str(derived)
    ckpt = args.checkpoint or random_checkpoint(args.config, work / "random_weights.pth")
    print(f"config {args.config}\ncheckpoint {args.checkpoint or 'random weights (seed 0)'}\n"
          f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} at start")
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.lower().split("x"))
        image = synthetic_image(work / f"photo_{width}x{height}.png", width, height)
        runs = {"bands": args.chunk_elements}
        if width * height <= args.one_piece_max_pixels:
            runs["one_piece"] = 0
        results = {name: run_child(args.config, ckpt, image, work / f"{width}x{height}_{name}", chunk)
                   for name, chunk in runs.items()}
        for name, res in results.items():
            print(f"{width}x{height} {name:9s} (--chunk-elements {runs[name]}): "
                  f"peak RSS {res['peak_rss_mib']:8.1f} MiB, {res['seconds']:6.1f} s, exit {res['exit']}")
        if len(results) == 2:
            cmp = same_outputs(work / f"{width}x{height}_bands", work / f"{width}x{height}_one_piece")
            print(f"{width}x{height} same files: {json.dumps(cmp)}")
    print(f"load {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
