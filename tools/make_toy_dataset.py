#!/usr/bin/env python
"""Write the synthetic toy dataset in the ADE20K, COCO (panoptic + instance) and Cityscapes layouts.

    python tools/make_toy_dataset.py data/toy                 # 300 train + 50 val, 128x128
    python tools/make_toy_dataset.py data/toy --num-train 40 --num-val 10 --size 96 128

The same (seed, split, index) always gives the same scene; see ``docs/datasets.md``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segformers.data.toy import LAYOUTS, write_toy_dataset  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out_dir", help="output folder (e.g. data/toy)")
    parser.add_argument("--num-train", type=int, default=300, help="training images (default 300)")
    parser.add_argument("--num-val", type=int, default=50, help="validation images (default 50)")
    parser.add_argument("--size", type=int, nargs="+", default=[128], metavar="N",
                        help="image size: one value (square) or H W (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=LAYOUTS,
                        help="layouts to write (default: all)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: min(4, CPUs))")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Write the toy dataset and print what was written."""
    args = parse_args(argv)
    if len(args.size) not in (1, 2) or min(args.size) < 16:
        raise SystemExit(f"--size takes one or two values >= 16, got {args.size}")
    size = (args.size[0], args.size[-1])
    start = time.time()
    summary = write_toy_dataset(
        args.out_dir, args.num_train, args.num_val, size, args.seed, args.layouts, args.workers
    )
    print(f"wrote {summary['num_train']} train + {summary['num_val']} val toy images ({size[0]}x{size[1]}) "
          f"in layouts {list(summary['layouts'])} to {args.out_dir} in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
