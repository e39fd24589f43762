"""Time inference and one training step of a model (median after warm-up) and its peak memory.

Usage:
    python tools/analysis/benchmark.py CONFIG [--checkpoint CKPT] [--shape H W] [--batch B]
        [--runs N] [--warmup N] [--threads T] [--hf-dir HF_DIR] [--device cuda] [--amp float16|bfloat16]
        [--profile N] [--compare-hf HF_DIR] [--cfg-options key=value ...]

With ``--hf-dir`` (a Hugging Face ``save_pretrained`` folder, e.g. one written by
``tools/analysis/make_hf_model.py`` and converted with ``tools/convert_checkpoint.py hf``) the same
measurements are taken for the ``transformers`` model on the same input and targets. Every
measurement runs in a fresh subprocess so that its peak memory is its own (resident memory on CPU,
``torch.cuda.max_memory_allocated`` on CUDA). ``--compare-hf HF_DIR`` is ``--hf-dir HF_DIR`` with the
result as one markdown table: ours, transformers and the ratio transformers / ours per measurement,
under a line naming the machine, the threads and the load average. ``--amp`` runs both models under autocast in that dtype
(float16 with a ``GradScaler`` for the training step, as ``tools/train.py --amp`` does on CUDA); on a device
without bf16 instructions (``segformers.engine.bf16_is_native``) ``--amp bfloat16`` is emulated, several times
slower than fp32, and the header says ``(emulated)``.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from mmengine.config import Config, DictAction

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def make_batch(batch: int, h: int, w: int, num_classes: int, seed: int = 0):  # noqa: ANN201
    """Normalized-looking images and random targets (3 segments per image)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, h, w, generator=g)
    labels = [torch.randint(0, num_classes, (3,), generator=g) for _ in range(batch)]
    masks = [torch.rand(3, h, w, generator=g) > 0.5 for _ in range(batch)]
    return x, labels, masks


def step_fns(model: torch.nn.Module, args, forward, loss_fn):  # noqa: ANN001, ANN201
    """``infer()`` and ``train()`` closures: AdamW step, autocast and (float16) loss scaling as asked."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    dtype = getattr(torch, args.amp) if args.amp else None
    scaler = torch.amp.GradScaler(args.device, enabled=dtype == torch.float16)

    def autocast():  # noqa: ANN202
        return torch.autocast(args.device, dtype=dtype, enabled=dtype is not None)

    def infer() -> None:
        with torch.no_grad(), autocast():
            forward(model.eval())

    def train() -> None:
        model.train()
        with autocast():
            loss = loss_fn(model)
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    return infer, train


def ours_step_fns(args):  # noqa: ANN001, ANN201
    from segformers.apis import forward_logits, init_model
    from segformers.structures import SegDataSample, Targets

    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options or {})
    model = init_model(cfg, args.checkpoint, device=args.device)
    x, labels, masks = make_batch(args.batch, *args.shape, model.num_classes)
    x = x.to(args.device)
    samples = []
    for lab, m in zip(labels, masks):
        s = SegDataSample()
        s.gt = Targets(lab.to(args.device), m.to(args.device))
        samples.append(s)
    return step_fns(model, args, lambda m: forward_logits(m, x), lambda m: sum(m.loss(x, samples).values()))


def hf_step_fns(args):  # noqa: ANN001, ANN201
    import transformers

    model = transformers.AutoModelForUniversalSegmentation.from_pretrained(args.hf_dir).to(args.device)
    x, labels, masks = make_batch(args.batch, *args.shape, model.config.num_labels)
    x = x.to(args.device)
    mask_labels = [m.float().to(args.device) for m in masks]
    class_labels = [lab.to(args.device) for lab in labels]
    return step_fns(model, args, lambda m: m(pixel_values=x, output_auxiliary_logits=True),
                    lambda m: m(pixel_values=x, mask_labels=mask_labels, class_labels=class_labels).loss)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure(args) -> dict:  # noqa: ANN001
    """Run in the child process: warm up, time ``runs`` calls, report median and peak RSS."""
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    infer, train = (hf_step_fns if args.impl == "hf" else ours_step_fns)(args)
    fn = infer if args.mode == "infer" else train
    for _ in range(args.warmup):
        fn()
    times = []
    for _ in range(args.runs):
        _sync(args.device)
        t0 = time.perf_counter()
        fn()
        _sync(args.device)
        times.append(time.perf_counter() - t0)
    if args.device == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.profile:
        print_profile(fn, args)
    return {"impl": args.impl, "mode": args.mode, "median_s": statistics.median(times),
            "min_s": min(times), "runs": args.runs, "peak_mb": round(peak_mb, 1)}


def print_profile(fn, args) -> None:  # noqa: ANN001
    """``torch.profiler`` table of ``args.profile`` more calls (top ops by device or CPU time)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(args.profile):
            fn()
        _sync(args.device)
    key = "cuda_time_total" if args.device == "cuda" else "cpu_time_total"
    print(f"{args.impl} {args.mode}: {args.profile} calls", file=sys.stderr)
    print(prof.key_averages().table(sort_by=key, row_limit=20, max_name_column_width=60), file=sys.stderr)


def run_child(argv: list[str], impl: str, mode: str) -> dict:
    cmd = [sys.executable, __file__, *argv, "--impl", impl, "--mode", mode]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    if "--profile" in argv:
        print(proc.stderr, end="")
    return json.loads(proc.stdout.strip().splitlines()[-1])


MEASURES = [("infer", "median_s", "inference, s (median)"), ("train", "median_s", "train step, s (median)"),
            ("infer", "peak_mb", "peak memory, inference, MB"), ("train", "peak_mb", "peak memory, train step, MB")]


def markdown_table(rows: list[dict], header: str) -> str:
    """The ``--compare-hf`` table: one row per measurement with ours, transformers and transformers / ours."""
    by = {(r["impl"], r["mode"]): r for r in rows}
    lines = [header, "", "| measurement | ours | transformers | transformers / ours |", "|---|---|---|---|"]
    for mode, key, label in MEASURES:
        ours, hf = by[("ours", mode)][key], by[("hf", mode)][key]
        fmt = "{:.4f}" if key == "median_s" else "{:.0f}"
        lines.append(f"| {label} | {fmt.format(ours)} | {fmt.format(hf)} | {hf / ours:.2f} |")
    return "\n".join(lines)


def _without_compare_hf(argv: list[str]) -> list[str]:
    """``argv`` less ``--compare-hf DIR`` / ``--compare-hf=DIR`` (the children take ``--hf-dir``)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--compare-hf":
            skip = True
        elif not a.startswith("--compare-hf="):
            out.append(a)
    return out


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _amp_label(args) -> str:  # noqa: ANN001
    """``none``, ``float16``, ``bfloat16`` or ``bfloat16 (emulated: no bf16 instructions)``."""
    from segformers.engine.amp import bf16_is_native

    if args.amp == "bfloat16" and not bf16_is_native(args.device):
        return "bfloat16 (emulated: no bf16 instructions, slower than fp32)"
    return args.amp or "none"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config")
    p.add_argument("--checkpoint")
    p.add_argument("--shape", nargs=2, type=int, default=[512, 512])
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--hf-dir", help="also measure this transformers save_pretrained folder")
    p.add_argument("--compare-hf", metavar="HF_DIR",
                   help="--hf-dir HF_DIR, printed as one markdown table with the ratios transformers / ours")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--amp", choices=["float16", "bfloat16"], help="autocast dtype (default: none, fp32)")
    p.add_argument("--cfg-options", nargs="+", action=DictAction, help="override entries of our config, key=value")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="after timing, print a torch.profiler table of N more calls of each measurement")
    p.add_argument("--impl", choices=["ours", "hf"], help=argparse.SUPPRESS)
    p.add_argument("--mode", choices=["infer", "train"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: CUDA is not available on this machine")
    if args.device == "cpu" and args.amp == "float16":
        p.error("--amp float16 needs --device cuda (CPU autocast runs bfloat16)")
    if args.impl:
        print(json.dumps(measure(args)))
        return
    if args.compare_hf and args.hf_dir and args.compare_hf != args.hf_dir:
        p.error("--compare-hf and --hf-dir name two different folders: give one")
    if args.compare_hf:
        argv = _without_compare_hf(argv) + ["--hf-dir", args.compare_hf]
        args.hf_dir = args.compare_hf
    impls = ["ours"] + (["hf"] if args.hf_dir else [])
    rows = [run_child(argv, impl, mode) for mode in ("infer", "train") for impl in impls]
    device = torch.cuda.get_device_name() if args.device == "cuda" else f"cpu, threads {args.threads}"
    if args.compare_hf:
        print(markdown_table(rows, (
            f"`{args.config}` vs `{args.hf_dir}`, input {args.batch}x3x{args.shape[0]}x{args.shape[1]}, {device}, "
            f"amp {_amp_label(args)}, torch {torch.__version__}, median of {args.runs} after {args.warmup} "
            f"warm-up, load average before {_load()}")))
        return
    print(f"config {args.config}  input {args.batch}x3x{args.shape[0]}x{args.shape[1]}  {device}  "
          f"amp {_amp_label(args)}  torch {torch.__version__}  median of {args.runs} after {args.warmup} warm-up")
    memory = "peak CUDA MB" if args.device == "cuda" else "peak RSS MB"
    print(f"{'impl':6} {'mode':6} {'median s':>9} {'min s':>9} {memory:>12}")
    for r in rows:
        print(f"{r['impl']:6} {r['mode']:6} {r['median_s']:9.4f} {r['min_s']:9.4f} {r['peak_mb']:12.1f}")


if __name__ == "__main__":
    main()
