"""The commands behind docs/model_zoo.md: which one reproduces each published number, and where the
ImageNet backbones come from (used by gen_model_zoo.py).

Per model: the official weights converted once (``checkpoints/<config name>/model.pth``), then
``tools/test.py`` for the single-scale numbers, ``--tta`` for the multi-scale + flip mIoU and
``--cfg-options test_evaluator.boundary_ap=True`` for Boundary AP; ``tools/dist_train.sh`` (8 GPUs) or
``tools/slurm_train.sh`` (16 / 64 GPUs) trains the model itself from its ImageNet backbone.
"""
from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

from segformers.models.backbones.pretrained_files import PRETRAINED_DIR, PRETRAINED_SOURCES

TTA_METRICS = {"mIoU_ms"}  # published multi-scale + flip numbers
BOUNDARY_METRICS = {"AP_boundary"}
SLURM_ABOVE = 8  # more GPUs than one machine has: slurm


def checkpoint(m: dict) -> str:
    """Where the converted official weights of a model go."""
    return f"checkpoints/{m['Name']}/model.pth"


def weights_command(m: dict) -> str:
    """Download the official detectron2 file and convert it, checked against the config."""
    return (f"wget -P checkpoints {m['Weights']} && python tools/convert_checkpoint.py official "
            f"checkpoints/{m['Checkpoint']} checkpoints/{m['Name']} --config {m['Config']}")


def test_command(m: dict, extra: str = "") -> str:
    """``tools/test.py`` of a model's config on its converted weights (``extra`` flags appended)."""
    return f"python tools/test.py {m['Config']} {checkpoint(m)}" + (f" {extra}" if extra else "")


def train_command(m: dict) -> str:
    """The official hardware from the config name (``{gpus}xb{n}``): one 8-GPU machine or slurm."""
    gpus = int(m["Name"].split("_")[2].split("xb")[0])
    if gpus <= SLURM_ABOVE:
        return f"tools/dist_train.sh {m['Config']} {gpus}"
    return f"GPUS={gpus} tools/slurm_train.sh PARTITION {m['Name']} {m['Config']} work_dirs/{m['Name']}"


def number_commands(m: dict) -> list[tuple[str, str]]:
    """``(published numbers, command)`` pairs covering every metric of the model's results."""
    metrics = list(m["Results"][0]["Metrics"])
    single = [k for k in metrics if k not in TTA_METRICS]
    boundary = [k for k in metrics if k in BOUNDARY_METRICS]
    out = [(" / ".join(single), test_command(m, "--cfg-options test_evaluator.boundary_ap=True" if boundary else ""))]
    tta = [k for k in metrics if k in TTA_METRICS]
    if tta:
        out.append((" / ".join(tta), test_command(m, "--tta")))
    return out


def render_commands(models: list[dict], data_root: str) -> list[str]:
    """Markdown list: per model its weights, the command of each published number, and training."""
    lines = [f"Reproduce (data in `{data_root}`, docs/datasets.md; ImageNet backbones in `{PRETRAINED_DIR}/`):", ""]
    for m in models:
        lines.append(f"* `{m['Name']}`")
        lines.append(f"  * weights: `{weights_command(m)}`")
        lines += [f"  * {numbers}: `{command}`" for numbers, command in number_commands(m)]
        lines.append(f"  * training: `{train_command(m)}`")
    return lines + [""]


def pretrained_section(models: list[dict]) -> list[str]:
    """The ImageNet files the zoo configs start from, how many configs use each, and how to get it."""
    uses = Counter(Path(m["Metadata"]["Pretrained"]).stem for m in models)
    text = (
        f"Every config starts its backbone from the ImageNet weights of the official run, named in the config as "
        f"`model.backbone.init_cfg = dict(type=\"Pretrained\", checkpoint=\"{PRETRAINED_DIR}/<file>\")`, a path "
        f"relative to the directory the tools run from (the repository root, as `data/`). `tools/train.py` stops "
        "before reading any data when the file is missing, naming the file and the command below; "
        "`--cfg-options model.backbone.init_cfg=None` trains the backbone from a random initialization instead. "
        "Configs without an `init_cfg` (the quick start, the toy and test configs) always start from scratch. "
        "The files are read as published (torchvision / detectron2 / official Swin formats, official.md §4.4)."
    )
    lines = ["## Pretrained backbones", "", *textwrap.wrap(text, width=110, break_on_hyphens=False), "",
             "| File | Weights | Configs | How to get it (from the repository root) |", "|---|---|---|---|"]
    for name, (command, what) in PRETRAINED_SOURCES.items():
        lines.append(f"| `{PRETRAINED_DIR}/{name}` | {what} | {uses[Path(name).stem]} | `{command}` |")
    return lines + [""]
