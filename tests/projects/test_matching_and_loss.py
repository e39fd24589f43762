"""projects/matching_and_loss (Mask2Former Table 5, Table XII): ``num_points=None`` really matches and supervises
whole masks (hand computations, no point sampling), every variant builds on both bases and the toy base trains,
the Table 5 / XII configs build, and the loss-memory benchmark runs."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from variant_probes import REPO, build_variant, forward_toy, train_toy_variant

import segformers.models.losses.samplers as samplers
import segformers.models.matchers.hungarian as hungarian
from projects.matching_and_loss.ablation_variants import CONFIG_VARIANTS, VARIANTS
from segformers.models.build import build_model
from segformers.models.transformer_decoders import StandardTransformerDecoder
from segformers.registry import CRITERIA
from segformers.structures import DecoderOutput, Targets

COSTS = [dict(type="ClassCost", weight=2.0), dict(type="MaskBCECost", weight=5.0), dict(type="DiceCost", weight=5.0)]
LOSSES = [dict(type="MaskBCELoss", loss_weight=5.0), dict(type="DiceLoss", loss_weight=5.0)]


def _criterion(match_points, loss_points):  # noqa: ANN001, ANN202
    return CRITERIA.build(dict(
        type="SetCriterion", num_classes=3, matcher=dict(type="HungarianMatcher", num_points=match_points, costs=COSTS),
        class_loss=dict(type="CrossEntropyLoss", loss_weight=2.0), mask_losses=LOSSES, num_points=loss_points,
        deep_supervision=False))


def _problem() -> tuple[DecoderOutput, list[Targets]]:
    g = torch.Generator().manual_seed(0)
    classes = torch.randn(2, 5, 4, generator=g)
    masks = torch.randn(2, 5, 8, 12, generator=g)  # 1/4 of the 32 x 48 ground truth
    targets = [Targets(torch.tensor([0, 2, 1]), torch.rand(3, 32, 48, generator=g) > 0.6),
               Targets(torch.tensor([1, 1]), torch.rand(2, 32, 48, generator=g) > 0.3)]
    return DecoderOutput([classes], [masks]), targets


@pytest.fixture
def no_point_sampling(monkeypatch):
    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("point sampling used on the whole-mask path")

    for module in (samplers, hungarian):
        monkeypatch.setattr(module, "point_sample", refuse)
    monkeypatch.setattr(samplers, "uncertain_point_coords", refuse)


def _bce(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(x, t, reduction="none")


def test_whole_mask_matching_costs_are_computed_on_whole_masks(no_point_sampling):
    out, targets = _problem()
    matcher = _criterion(None, None).matcher
    for b, target in enumerate(targets):
        pred = out.mask_logits[0][b].flatten(1)  # [5, 96]: every pixel of the 1/4 prediction
        gt = F.interpolate(target.masks[:, None].float(), size=(8, 12), mode="nearest")[:, 0].flatten(1)
        bce = torch.stack([torch.stack([_bce(p, t).mean() for t in gt]) for p in pred])
        prob = pred.sigmoid()
        dice = 1 - (2 * prob @ gt.T + 1) / (prob.sum(1)[:, None] + gt.sum(1)[None] + 1)
        cls = -out.class_logits[0][b].softmax(-1)[:, target.labels]
        expected = 2.0 * cls + 5.0 * bce + 5.0 * dice
        torch.testing.assert_close(matcher.cost_matrix(out.class_logits[0][b], out.mask_logits[0][b], target), expected)


def test_whole_mask_loss_equals_a_hand_computation_on_whole_masks(no_point_sampling):
    out, targets = _problem()
    criterion = _criterion(None, None)
    losses = criterion(out, targets)
    matches = criterion.matcher(out.class_logits[0], out.mask_logits[0], targets)
    bce, dice = torch.tensor(0.0), torch.tensor(0.0)
    for b, (src, tgt) in enumerate(matches):
        for q, t in zip(src.tolist(), tgt.tolist()):
            x = F.interpolate(out.mask_logits[0][b, q][None, None], size=(32, 48), mode="bilinear",
                              align_corners=False).flatten()
            y = targets[b].masks[t].flatten().float()
            bce = bce + _bce(x, y).mean()
            dice = dice + 1 - (2 * (x.sigmoid() * y).sum() + 1) / (x.sigmoid().sum() + y.sum() + 1)
    num_masks = 5.0  # 3 + 2 ground-truth masks
    torch.testing.assert_close(losses["loss_mask"], 5.0 * bce / num_masks)
    torch.testing.assert_close(losses["loss_dice"], 5.0 * dice / num_masks)


def test_point_paths_sample_points_and_give_other_values():
    out, targets = _problem()
    torch.manual_seed(0)
    whole = _criterion(None, None)(out, targets)
    calls = []
    original = samplers.point_sample

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(args[1].shape)
        return original(*args, **kwargs)

    samplers.point_sample = counting
    try:
        points = _criterion(None, 16)(out, targets)
    finally:
        samplers.point_sample = original
    assert calls and all(shape[-2] == 16 for shape in calls[-2:])  # 16 points per matched pair
    assert abs(float(points["loss_mask"] - whole["loss_mask"])) > 1e-4
    torch.testing.assert_close(points["loss_ce"], whole["loss_ce"])  # same matching (whole masks), same classes


EXPECTED_POINTS = {  # (matcher, criterion) num_points on the (toy, paper) base; None = whole masks
    "match_mask_loss_mask": ((None, None), (None, None)),
    "match_mask_loss_point": ((None, 256), (None, 12544)),
    "match_point_loss_mask": ((256, None), (12544, None)),
}


@pytest.mark.parametrize("base", ["toy", "paper"])
@pytest.mark.parametrize("variant", VARIANTS, ids=[v["name"] for v in VARIANTS])
def test_every_variant_builds_on_both_bases(variant, base):
    model = build_variant(base, variant, meta=base == "paper")
    if base == "toy":
        forward_toy(model)  # the toy base is small enough to build for real and run
    criterion = model.criterion
    if variant["name"] in EXPECTED_POINTS:
        expected = EXPECTED_POINTS[variant["name"]][base == "paper"]
        assert (criterion.matcher.num_points, criterion.sampler.num_points) == expected
    else:  # MaskFormer's model with Mask2Former's training parameters
        assert isinstance(model.transformer_decoder, StandardTransformerDecoder)
        assert type(model.pixel_decoder).__name__ == "TransformerEncoderPixelDecoder"
        assert model.transformer_decoder.in_feature == "encoder" and len(model.transformer_decoder.transformer
                                                                         .decoder.layers) == 6
        assert criterion.sampler.num_points == (12544 if base == "paper" else 256)


TABLE5 = sorted((REPO / "projects/matching_and_loss/configs/table5").glob("*.py"))


@pytest.mark.parametrize("path", TABLE5 + [REPO / v["config"] for v in CONFIG_VARIANTS], ids=lambda p: p.name)
def test_the_table5_and_table12_configs_build(path):
    with torch.device("meta"):
        model = build_model(str(path))
    name = path.name
    matcher, loss = model.criterion.matcher.num_points, model.criterion.sampler.num_points
    if "match-mask" in name:
        assert matcher is None
    if "loss-mask" in name:
        assert loss is None
    if "16xb1-75e" in name:  # Table XII (a): MaskFormer params: whole masks, focal 20 / dice 1 / class 1
        assert (matcher, loss) == (None, None) and model.criterion.loss_weights == {
            "loss_ce": 1.0, "loss_mask": 20.0, "loss_dice": 1.0}
        assert model.postprocessor.instance_on and model.num_classes == 80
    if "m2f-params" in name or "coco-instance_fpn" in name:  # Table XII (b), (c): Mask2Former params
        assert (matcher, loss) == (12544, 12544) and model.criterion.loss_weights["loss_mask"] == 5.0
    assert len(TABLE5) == 3



@pytest.mark.parametrize("name", ["match_mask_loss_mask", "maskformer_m2f_params"])
def test_variant_trains_a_few_toy_iterations(name, toy_root, tmp_path):
    variant = next(v for v in VARIANTS if v["name"] == name)
    runner, losses, _ = train_toy_variant(variant, toy_root, tmp_path)
    assert len(losses) == 3
    if name == "match_mask_loss_mask":
        assert runner.model.criterion.sampler.num_points is None and runner.model.criterion.matcher.num_points is None


def test_the_memory_benchmark_runs_and_reports_every_mode(tmp_path):
    out = tmp_path / "mem.json"
    cmd = [sys.executable, "tools/analysis/bench_loss_memory.py", "--parts", "criterion", "--criterion-size", "128",
           "--targets", "2", "--threads", "1", "--json", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(out.read_text())
    assert [r["mode"] for r in results] == ["point/point", "point/mask", "mask/point", "mask/mask"]
    assert all(r["peak_extra_mb"] > 0 and r["loss"] > 0 for r in results)
    assert "| criterion | mask/mask |" in proc.stdout
