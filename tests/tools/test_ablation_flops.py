"""FLOPs of the ablation variants as ratios to the default model match the paper's ratios within 2%.

Every catalog variant with a published ``paper.flops_g`` is built on the R50 COCO-instance Mask2Former and counted with tools/analysis/complexity.py at 800x1216, batch 1
(tools/ablation/flops.py). The table of these numbers is in docs/ablations.md.
"""
from __future__ import annotations

import pytest
from mmengine.config import Config

from tools.ablation.flops import BASELINE, PAPER_BASE, SHAPE, TOLERANCE, variant_flops
from tools.ablation.variants import REPO, load_catalog

pytestmark = pytest.mark.slow

CATALOG = load_catalog()
PUBLISHED = [v for v in CATALOG.values() if v["paper"].get("flops_g") and v["name"] != BASELINE]
VARIANTS = PUBLISHED


@pytest.fixture(scope="module")
def base() -> Config:
    return Config.fromfile(str(REPO / PAPER_BASE))


@pytest.fixture(scope="module")
def baseline_gflops(base) -> float:
    return variant_flops(CATALOG[BASELINE], base, SHAPE)[0]


@pytest.mark.parametrize("variant", VARIANTS, ids=[v["name"] for v in VARIANTS])
def test_flops_ratio_matches_the_paper(variant, base, baseline_gflops):
    ours, _ = variant_flops(variant, base, SHAPE)
    ratio, paper = ours / baseline_gflops, variant["paper"]["flops_g"] / CATALOG[BASELINE]["paper"]["flops_g"]
    assert abs(ratio / paper - 1) <= TOLERANCE, (
        f"{variant['name']}: {ours:.1f}G / {baseline_gflops:.1f}G = {ratio:.3f}, paper {paper:.3f}")
