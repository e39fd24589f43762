"""Time our Hugging Face-compatible post-processing against transformers' image processor.

Usage: python tools/analysis/bench_postprocess.py [--threads 2] [--runs 5] [--warmup 2]
       [--reference mask2former|maskformer] [--check] [--tasks semantic panoptic instance]

Inputs (fixed seed): batch 4, 100 queries, 133 classes + no-object, 128x128 mask logits, every target
size 512x512, fp32, default thresholds. Per image 20 queries are confident (one class logit +8), the
others lean to no-object; the confident queries' masks split the image into regions (soft edges), the
others' are mostly negative; all are a 16x16 field resized to 128x128 plus noise (mixed sign).
Ours and the reference run interleaved in one process; the table gives the median of ``--runs`` after
``--warmup`` runs. ``--check`` first asserts that our maps and segments equal transformers'
``MaskFormerImageProcessor`` (the reference of the parity tests; ``Mask2FormerImageProcessor`` resizes the
logits to 384x384 first and so gives other maps at these sizes).
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from segformers.processing import MaskFormerImageProcessor  # noqa: E402

TASKS = ("semantic", "panoptic", "instance")


def make_inputs(batch: int = 4, queries: int = 100, classes: int = 133, hw: int = 128, confident: int = 20,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``class_logits [B, Q, K+1]`` and ``mask_logits [B, Q, hw, hw]`` (see the module docstring)."""
    g = torch.Generator().manual_seed(seed)
    cls = torch.randn(batch, queries, classes + 1, generator=g)
    cls[..., -1] += 3.0  # most queries: no-object
    for b in range(batch):
        picked = torch.randperm(queries, generator=g)[:confident]
        labels = torch.randint(0, classes, (confident,), generator=g)
        cls[b, picked, labels] += 8.0
        cls[b, picked, -1] -= 3.0
    coarse = torch.randn(batch, queries, hw // 8, hw // 8, generator=g) * 3 - 4
    for b in range(batch):  # the confident queries share the image: one region each, soft edges
        picked = cls[b, :, :-1].amax(dim=-1) > 5
        field = torch.randn(int(picked.sum()), hw // 8, hw // 8, generator=g)
        owner = F.interpolate(field[None], scale_factor=2.0, mode="bilinear")[0].argmax(0)
        region = owner[None] == torch.arange(len(field))[:, None, None]
        coarse[b, picked] = torch.where(region[:, ::2, ::2], 5.0, -5.0) + 2 * torch.randn(field.shape, generator=g)
    masks = F.interpolate(coarse, size=(hw, hw), mode="bilinear", align_corners=False)
    return cls, masks + 0.5 * torch.randn(masks.shape, generator=g)


def reference_processor(name: str) -> Any:
    """transformers' (PIL-backend) processor class ``name`` (``mask2former`` or ``maskformer``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import transformers
        from transformers import Mask2FormerImageProcessorPil, MaskFormerImageProcessorPil
    transformers.logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    return {"mask2former": Mask2FormerImageProcessorPil, "maskformer": MaskFormerImageProcessorPil}[name]()


def hf_output(cls: torch.Tensor, masks: torch.Tensor) -> Any:
    """A transformers model output holding the two logits."""
    from transformers.models.mask2former.modeling_mask2former import Mask2FormerForUniversalSegmentationOutput

    return Mask2FormerForUniversalSegmentationOutput(class_queries_logits=cls, masks_queries_logits=masks)


def task_call(processor: Any, task: str, outputs: Any, sizes: list) -> Callable[[], Any]:
    """A no-argument call of ``processor``'s ``post_process_{task}_segmentation``."""
    method = getattr(processor, f"post_process_{task}_segmentation")
    return lambda: method(outputs, target_sizes=sizes)


def check_equal(task: str, ours: list, theirs: list) -> None:
    """Assert that our per-image results equal transformers' (maps bit for bit, segments exactly)."""
    for i, (mine, ref) in enumerate(zip(ours, theirs)):
        if task == "semantic":
            assert torch.equal(mine, ref), f"semantic map {i} differs"
            continue
        assert mine["segments_info"] == ref["segments_info"], f"{task} segments of image {i} differ"
        assert torch.equal(mine["segmentation"], ref["segmentation"]), f"{task} map {i} differs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--reference", choices=["mask2former", "maskformer"], default="mask2former")
    parser.add_argument("--check", action="store_true", help="assert equality with MaskFormerImageProcessor first")
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cls, masks = make_inputs()
    sizes = [(512, 512)] * cls.shape[0]
    ours, ref = MaskFormerImageProcessor(), reference_processor(args.reference)
    if args.check:
        check_ref = reference_processor("maskformer")
        for task in args.tasks:
            check_equal(task, task_call(ours, task, hf_output(cls, masks), sizes)(),
                        task_call(check_ref, task, hf_output(cls, masks), sizes)())
        print(f"check: {', '.join(args.tasks)} equal to transformers' MaskFormerImageProcessor")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nthreads={args.threads}, load average {load}, fp32, batch 4 x 100 queries x 133 classes, "
          f"128x128 -> 512x512, median of {args.runs} after {args.warmup} warm-up\n")
    print(f"| task | ours ms | {args.reference} ms | ratio |\n|---|---:|---:|---:|")
    with torch.no_grad():
        for task in args.tasks:
            calls = {"ours": task_call(ours, task, hf_output(cls, masks), sizes),
                     "ref": task_call(ref, task, hf_output(cls, masks), sizes)}
            times: dict[str, list[float]] = {"ours": [], "ref": []}
            for _ in range(args.warmup + args.runs):
                for name, call in calls.items():
                    start = time.perf_counter()
                    call()
                    times[name].append(time.perf_counter() - start)
            a, b = (statistics.median(times[n][args.warmup:]) * 1e3 for n in ("ours", "ref"))
            print(f"| {task} | {a:.0f} | {b:.0f} | {b / a:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
