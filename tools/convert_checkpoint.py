"""Convert published checkpoints into segformers configs + state dicts.

Usage:
    python tools/convert_checkpoint.py hf HF_DIR OUT_DIR
        HF_DIR: a save_pretrained folder of MaskFormerForInstanceSegmentation or
        Mask2FormerForUniversalSegmentation (Swin or ResNet backbone).
        Writes OUT_DIR/config.py and OUT_DIR/model.pth (loadable with torch.load(weights_only=True)).
    python tools/convert_checkpoint.py official model_final_XXXXXX.pkl OUT_DIR [--config CONFIG]
        An official MaskFormer / Mask2Former detectron2 checkpoint. Writes OUT_DIR/model.pth and, without
        --config, OUT_DIR/config.py inferred from the weights; with --config the weights are only checked
        against CONFIG. Missing / unexpected / mis-shaped keys are named in the error.
    python tools/convert_checkpoint.py backbone SRC OUT.pth [--config CONFIG] [--prefix P] [--add-prefix P]
        ImageNet backbone weights (torchvision ResNet .pth, detectron2 R-50/R-101/R-103.pkl, official Swin
        .pth) or the backbone of a full model. Writes our backbone state dict; with --config it is loaded
        into CONFIG's model.backbone first. --add-prefix backbone. writes names for `load_from`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from segformers.apis import load_config  # noqa: E402
from segformers.checkpoint.backbones import infer_backbone_cfg  # noqa: E402
from segformers.checkpoint.hf import convert_hf_folder  # noqa: E402
from segformers.checkpoint.official import convert_official_checkpoint  # noqa: E402
from segformers.models.backbones.pretrained import load_backbone_weights, split_init_cfg  # noqa: E402
from segformers.registry import BACKBONES  # noqa: E402
from segformers.weights_io import read_backbone_weights  # noqa: E402


def convert_backbone(src: str, out: str, config: Optional[str] = None, prefix: Optional[str] = None,
                     add_prefix: str = "") -> str:
    """Convert backbone weights to ``out``; returns a report (loaded / unused / missing keys)."""
    weights = read_backbone_weights(src, prefix=prefix)
    if config is None:
        report = (f"{src}: {weights.source_format} format, {len(weights.state)} backbone tensors; "
                  f"unused ({len(weights.unused)}): {weights.unused}\n"
                  f"backbone config inferred from the weights: {infer_backbone_cfg(weights.state)}")
    else:
        backbone_cfg, _ = split_init_cfg(load_config(config).model.backbone)
        report = load_backbone_weights(BACKBONES.build(backbone_cfg), weights).summary()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    torch.save({add_prefix + k: v.contiguous() for k, v in weights.state.items()}, out)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Convert published checkpoints into segformers format.")
    sub = parser.add_subparsers(dest="source", required=True)
    hf = sub.add_parser("hf", help="a Hugging Face save_pretrained folder")
    hf.add_argument("hf_dir")
    hf.add_argument("out_dir")
    official = sub.add_parser("official", help="an official MaskFormer / Mask2Former model_final_*.pkl")
    official.add_argument("src")
    official.add_argument("out_dir")
    official.add_argument("--config", help="the exact segformers config (default: infer one from the weights)")
    backbone = sub.add_parser("backbone", help="ImageNet backbone weights (torchvision / detectron2 / Swin)")
    backbone.add_argument("src")
    backbone.add_argument("out")
    backbone.add_argument("--config", help="check the weights against this config's model.backbone")
    backbone.add_argument("--prefix", help="use only the keys under this prefix (default: backbone. for full models)")
    backbone.add_argument("--add-prefix", default="", help="prefix for the written names (backbone. for load_from)")
    args = parser.parse_args(argv)
    if args.source == "hf":
        cfg_path, pth_path = convert_hf_folder(args.hf_dir, args.out_dir)
        print(f"wrote {cfg_path} and {pth_path}")
    elif args.source == "official":
        cfg_path, pth_path = convert_official_checkpoint(args.src, args.out_dir, args.config)
        print(f"wrote {pth_path}" + (f" and {cfg_path}" if cfg_path else f" (checked against {args.config})"))
    else:
        print(convert_backbone(args.src, args.out, args.config, args.prefix, args.add_prefix))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
