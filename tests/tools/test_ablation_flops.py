"""FLOPs of the ablation variants as ratios to the default model match the paper's ratios within 2%.

Every catalog variant with a published ``paper.flops_g`` plus the config-only reference checks of
tools/ablation/flops.py (the query counts of Table Xa, the core FPN pixel decoder of Table 4e, and the
no_masked_attention plugin's plain cross-attention) is built on
the R50 COCO-instance Mask2Former and counted with tools/analysis/complexity.py at 800x1216, batch 1
(tools/ablation/flops.py). The table of these numbers is in docs/ablations.md.
"""
from __future__ import annotations

import pytest
from mmengine.config import Config

from tools.ablation.flops import BASELINE, PAPER_BASE, REFERENCE_CHECKS, SHAPE, TOLERANCE, variant_flops
from tools.ablation.variants import REPO, load_catalog, normalize_variant

pytestmark = pytest.mark.slow

FIXTURES = [normalize_variant(v, "REFERENCE_CHECKS") for v in REFERENCE_CHECKS]
# Ratios that do not reproduce, with what was found (docs/ablations.md, "FLOPs"): strict xfail, so a fix shows.
KNOWN_GAPS = {
    "check_fpn": "our FPNPixelDecoder is the official BasePixelDecoder (3x3 mask_features conv: 35.9G of its 94.6G "
                 "at 800x1216); it is 42G below MSDeformAttn (ratio 0.828), the paper's FPN 31G (195/226 = 0.863)",
}
CATALOG = load_catalog()
VARIANTS = [v for v in CATALOG.values() if v["paper"].get("flops_g") and v["name"] != BASELINE] + FIXTURES


@pytest.fixture(scope="module")
def base() -> Config:
    return Config.fromfile(str(REPO / PAPER_BASE))


@pytest.fixture(scope="module")
def baseline_gflops(base) -> float:
    return variant_flops(CATALOG[BASELINE], base, SHAPE)[0]


@pytest.mark.parametrize("variant", [
    pytest.param(v, marks=pytest.mark.xfail(reason=KNOWN_GAPS[v["name"]], strict=True)) if v["name"] in KNOWN_GAPS
    else v for v in VARIANTS], ids=[v["name"] for v in VARIANTS])
def test_flops_ratio_matches_the_paper(variant, base, baseline_gflops):
    ours, _ = variant_flops(variant, base, SHAPE)
    ratio, paper = ours / baseline_gflops, variant["paper"]["flops_g"] / CATALOG[BASELINE]["paper"]["flops_g"]
    assert abs(ratio / paper - 1) <= TOLERANCE, (
        f"{variant['name']}: {ours:.1f}G / {baseline_gflops:.1f}G = {ratio:.3f}, paper {paper:.3f}")
