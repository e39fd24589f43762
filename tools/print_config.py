"""Print a config after ``_base_`` inheritance and ``--cfg-options`` overrides.

Usage: python tools/print_config.py CONFIG [--cfg-options key=value ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmengine.config import Config, DictAction

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="config file path")
    parser.add_argument(
        "--cfg-options", nargs="+", action=DictAction, default={},
        help="override settings, e.g. model.num_classes=19 'model.backbone.out_features=[res4,res5]'",
    )
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    print(cfg.pretty_text)


if __name__ == "__main__":
    main()
