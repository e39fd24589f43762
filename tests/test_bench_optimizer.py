"""tools/analysis/bench_optimizer.py: the group layouts it times."""
import sys
from pathlib import Path

from mmengine.config import Config
from mmengine.registry import init_default_scope

import segformers.engine  # noqa: F401  (registers the optimizer constructor)
import segformers.models  # noqa: F401
from segformers.registry import MODELS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools/analysis"))
import bench_optimizer  # noqa: E402

QUICKSTART = ROOT / "configs/quickstart/mask2former_r18-tiny_2xb2-570s_toy-panoptic.py"


def test_group_counts_of_the_two_layouts():
    init_default_scope("segformers")
    cfg = Config.fromfile(str(QUICKSTART))
    per_param, t_per_param = bench_optimizer.time_step(cfg, merge=False, fused=True, runs=1)
    merged, t_merged = bench_optimizer.time_step(cfg, merge=True, fused=True, runs=1)
    trainable = sum(p.requires_grad for p in MODELS.build(cfg.model).parameters())
    # backbone / head x with / without weight decay (norms, embeddings)
    assert merged == 4 and per_param == trainable > 100
    assert t_per_param > 0 and t_merged > 0
