"""Convert published checkpoints into segformers configs + state dicts.

Usage:
    python tools/convert_checkpoint.py hf HF_DIR OUT_DIR
        HF_DIR: a save_pretrained folder of MaskFormerForInstanceSegmentation or
        Mask2FormerForUniversalSegmentation (Swin or ResNet backbone).
        Writes OUT_DIR/config.py and OUT_DIR/model.pth (loadable with torch.load(weights_only=True)).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segformers.checkpoint.hf import convert_hf_folder  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Convert published checkpoints into segformers format.")
    sub = parser.add_subparsers(dest="source", required=True)
    hf = sub.add_parser("hf", help="a Hugging Face save_pretrained folder")
    hf.add_argument("hf_dir")
    hf.add_argument("out_dir")
    args = parser.parse_args(argv)
    if args.source == "hf":
        cfg_path, pth_path = convert_hf_folder(args.hf_dir, args.out_dir)
        print(f"wrote {cfg_path} and {pth_path}")


if __name__ == "__main__":
    main()
