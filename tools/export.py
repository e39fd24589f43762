"""Export a model's tensor forward with strict ``torch.export`` or to ONNX (docs/export.md).

Usage:
    python tools/export.py CONFIG CHECKPOINT --format {torch-export,onnx} [--dynamic] [--out PATH]
                           [--size H W] [--batch B] [--opset N] [--check] [--cfg-options KEY=VALUE ...]

The graph maps normalized, padded ``pixel_values [B, 3, H, W]`` to ``class_queries_logits [B, Q, K+1]``
and ``masks_queries_logits [B, Q, H/4, W/4]``; resizing, normalization, padding and post-processing stay
outside. ``--dynamic`` keeps H and W dynamic (any multiple of the model's size divisor); without it the
graph takes only ``--size``. Writes PATH (``.pt2`` or ``.onnx``) and PATH + ``.json`` (input / output
names, size divisor, normalization, class names). ``--check`` runs the export against the eager model
at the traced size and, with ``--dynamic``, at a second size, and prints the largest differences.
``--cfg-options`` overrides the config (e.g. ``model.backbone.autocast_dtype=None``: a backbone's own autocast
does not export).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from segformers.apis import init_model, load_config  # noqa: E402
from segformers.export import (  # noqa: E402
    INPUT_NAME, OUTPUT_NAMES, TensorForward, export_onnx, export_program, size_divisor,
)

SUFFIX = {"torch-export": ".pt2", "onnx": ".onnx"}


def sidecar(model: torch.nn.Module, cfg, fmt: str, dynamic: bool, size: Sequence[int], batch: int) -> dict:  # noqa: ANN001
    """What a deployment needs to know besides the graph: I/O names, shapes, normalization, classes."""
    pre = model.data_preprocessor
    mean = getattr(pre, "mean", None)
    std = getattr(pre, "std", None)
    return dict(
        format=fmt, input=INPUT_NAME, outputs=list(OUTPUT_NAMES), batch=batch,
        height_width="any multiple of size_divisor" if dynamic else list(size),
        size_divisor=size_divisor(model), normalize="(RGB 0-255 - pixel_mean) / pixel_std, then zero padding",
        pixel_mean=None if mean is None else mean.flatten().tolist(),
        pixel_std=None if std is None else std.flatten().tolist(), num_classes=int(model.num_classes),
        classes=list((cfg.get("metainfo") or {}).get("classes") or []),
    )


def check(program: torch.export.ExportedProgram, model: torch.nn.Module, path: Path, fmt: str,
          sizes: list[tuple[int, int]], batch: int) -> list[str]:
    """Largest |exported - eager| per output at each size (ONNX through onnxruntime)."""
    eager = TensorForward(model).eval()
    run = program.module()
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        run = lambda x: [torch.from_numpy(a) for a in session.run(None, {INPUT_NAME: x.numpy()})]  # noqa: E731
    lines = []
    for h, w in sizes:
        x = torch.randn(batch, 3, h, w, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            got, ref = run(x), eager(x)
        diffs = ", ".join(f"{n} {(a - b).abs().max().item():.2e}" for n, a, b in zip(OUTPUT_NAMES, got, ref))
        lines.append(f"{h}x{w}: max |export - eager|: {diffs}")
    return lines


def main(argv: Optional[list[str]] = None) -> Path:
    parser = argparse.ArgumentParser(description="Export the tensor forward (torch.export or ONNX).")
    parser.add_argument("config")
    parser.add_argument("checkpoint")
    parser.add_argument("--format", choices=sorted(SUFFIX), required=True)
    parser.add_argument("--dynamic", action="store_true", help="dynamic height and width")
    parser.add_argument("--out", help="output file (default: next to the checkpoint)")
    parser.add_argument("--size", type=int, nargs=2, default=(512, 512), metavar=("H", "W"),
                        help="traced size (the only size without --dynamic); multiples of the size divisor")
    parser.add_argument("--batch", type=int, default=1, help="batch size of the graph")
    parser.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's)")
    parser.add_argument("--check", action="store_true", help="compare with the eager model")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, help="config overrides, key=value")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = init_model(cfg, args.checkpoint)
    out = Path(args.out or Path(args.checkpoint).with_suffix(SUFFIX[args.format]))
    example = torch.zeros(args.batch, 3, *args.size)
    program = export_program(model, example, dynamic=args.dynamic)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "onnx":
        export_onnx(program, out, opset=args.opset)
    else:
        torch.export.save(program, str(out))
    meta = sidecar(model, cfg, args.format, args.dynamic, args.size, args.batch)
    Path(str(out) + ".json").write_text(json.dumps(meta, indent=2))
    print(f"wrote {out} and {out}.json")
    if args.check:
        h, w = args.size
        sizes = [(h, w)] + ([(h + size_divisor(model), w + 2 * size_divisor(model))] if args.dynamic else [])
        print("\n".join(check(program, model, out, args.format, sizes, args.batch)))
    return out


if __name__ == "__main__":
    main()
