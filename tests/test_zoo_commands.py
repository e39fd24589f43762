"""docs/model_zoo.md names, for every published number, a command whose parts exist: the config, the
converted weights, the test flags (``--tta``, Boundary AP) and the training launcher."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from segformers.registry import METRICS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools/analysis"))

import gen_model_zoo  # noqa: E402
import zoo_commands  # noqa: E402

MODELS = gen_model_zoo.load_models(ROOT)
PAGE = (ROOT / "docs/model_zoo.md").read_text()


@pytest.mark.parametrize("m", MODELS, ids=[m["Name"] for m in MODELS])
def test_every_published_number_has_its_command_on_the_page(m):
    metrics = list(m["Results"][0]["Metrics"])
    pairs = zoo_commands.number_commands(m)
    assert sorted(k for numbers, _ in pairs for k in numbers.split(" / ")) == sorted(metrics)
    for numbers, command in pairs:
        assert f"  * {numbers}: `{command}`" in PAGE
        assert command.startswith(f"python tools/test.py {m['Config']} checkpoints/{m['Name']}/model.pth")
        assert ("--tta" in command) == (numbers == "mIoU_ms")
        assert ("boundary_ap=True" in command) == ("AP_boundary" in numbers)
    assert f"`{zoo_commands.weights_command(m)}`" in PAGE and f"`{zoo_commands.train_command(m)}`" in PAGE
    assert (ROOT / m["Config"]).is_file() and m["Checkpoint"] in zoo_commands.weights_command(m)


@pytest.mark.parametrize("m", [m for m in MODELS if "AP_boundary" in m["Results"][0]["Metrics"]],
                         ids=lambda m: m["Name"])
def test_the_boundary_ap_override_reaches_the_metric(m):
    cfg = Config.fromfile(str(ROOT / m["Config"]))
    cfg.merge_from_dict({"test_evaluator.boundary_ap": True})  # what --cfg-options passes
    metric = METRICS.build(cfg.test_evaluator)
    assert type(metric).__name__ == "CocoInstanceMetric" and metric.boundary_ap and metric.dilation_ratio == 0.02


def test_train_commands_follow_the_official_hardware():
    by_name = {m["Name"]: zoo_commands.train_command(m) for m in MODELS}
    assert by_name["mask2former_r50_8xb2-160k_ade20k-512x512"] == (
        "tools/dist_train.sh configs/mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py 8")
    assert by_name["mask2former_swin-l-in21k_16xb1-lsj-100e_coco-panoptic"].startswith("GPUS=16 tools/slurm_train.sh ")
    assert by_name["maskformer_r50_64xb1-554k_coco-panoptic"].startswith("GPUS=64 tools/slurm_train.sh ")
    for script in ("dist_train.sh", "slurm_train.sh", "dist_test.sh", "slurm_test.sh", "convert_checkpoint.py"):
        assert (ROOT / "tools" / script).is_file()


def test_the_pretrained_table_lists_every_file_and_config():
    rows = [line for line in PAGE.splitlines() if line.startswith("| `pretrained/")]
    assert len(rows) == len(zoo_commands.PRETRAINED_SOURCES) == 8
    assert sum(int(row.split(" | ")[2]) for row in rows) == len(MODELS) == 71
