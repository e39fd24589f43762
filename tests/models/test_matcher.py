"""Point sampling, match costs and the Hungarian matcher: brute-force checks, invariants, HF parity."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from segformers.models.layers.point_sample import point_sample, uncertain_point_coords
from segformers.models.matchers import ClassCost, DiceCost, HungarianMatcher, MaskBCECost, MaskFocalCost, MatchInputs
from segformers.registry import MATCHERS
from segformers.structures import Targets

M2F_COSTS = [dict(type="ClassCost", weight=2.0), dict(type="MaskBCECost", weight=5.0),
             dict(type="DiceCost", weight=5.0)]
MF_COSTS = [dict(type="ClassCost", weight=1.0), dict(type="MaskFocalCost", weight=20.0),
            dict(type="DiceCost", weight=1.0)]


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)  # every test is deterministic, whatever ran before it


def random_targets(counts: list[int], num_classes: int, size: tuple[int, int], seed: int = 0) -> list[Targets]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in counts:
        labels = torch.randint(0, num_classes, (n,), generator=g)
        masks = torch.rand(n, *size, generator=g) > 0.6
        out.append(Targets(labels, masks))
    return out


def build(costs: list[dict], num_points) -> HungarianMatcher:
    return MATCHERS.build(dict(type="HungarianMatcher", costs=costs, num_points=num_points))


# --- point sampling ---------------------------------------------------------------------------------
def test_point_sample_reads_pixel_centres_and_zero_pads_borders():
    grid = torch.arange(12.0).view(1, 1, 3, 4)
    # pixel (row 1, col 2) has centre x = (2 + 0.5) / 4, y = (1 + 0.5) / 3
    centre = torch.tensor([[[2.5 / 4, 1.5 / 3]]])
    assert point_sample(grid, centre).item() == pytest.approx(6.0)
    # the top-left corner lies between four pixels, three of them padding zeros
    corner = torch.zeros(1, 1, 2)
    assert point_sample(grid, corner).item() == pytest.approx(0.25 * 0.0)
    corner_br = torch.ones(1, 1, 2)
    assert point_sample(grid, corner_br).item() == pytest.approx(0.25 * 11.0)
    # halfway between pixel centres (row 0, cols 0 and 1) -> mean of 0 and 1
    mid = torch.tensor([[[1.0 / 4, 0.5 / 3]]])
    assert point_sample(grid, mid).item() == pytest.approx(0.5)
    assert point_sample(torch.rand(2, 3, 5, 5), torch.rand(2, 7, 2)).shape == (2, 3, 7)


def test_point_sample_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"coords \[N, P, 2\]"):
        point_sample(torch.rand(2, 1, 4, 4), torch.rand(3, 5, 2))


def test_uncertain_points_pick_the_most_uncertain_and_append_random():
    logits = torch.linspace(-5, 5, 64).repeat(32, 1)[None, None]  # [1, 1, 32, 64], boundary at x = 0.5
    torch.manual_seed(0)
    coords = uncertain_point_coords(logits, num_points=40, oversample_ratio=3.0, importance_sample_ratio=0.75)
    assert coords.shape == (1, 40, 2)
    # replay the draws: 120 uniform candidates, 30 kept by -|logit|, then 10 fresh uniform points
    torch.manual_seed(0)
    candidates = torch.rand(1, 120, 2)
    uncertainty = -point_sample(logits, candidates)[0, 0].abs()
    kept = candidates[0, uncertainty.topk(30).indices]
    assert torch.equal(coords[0, :30], kept)
    assert torch.equal(coords[0, 30:], torch.rand(1, 10, 2)[0])
    assert point_sample(logits, coords[:, :30]).abs().max() < point_sample(logits, candidates).abs().median()


def test_uncertain_points_parity_with_hf():
    hf = pytest.importorskip("transformers.models.mask2former.modeling_mask2former")
    config = hf.Mask2FormerConfig(num_labels=3)
    loss = hf.Mask2FormerLoss(config, weight_dict={})
    logits = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(2)) * 3
    torch.manual_seed(4)  # same global-generator draws, same shapes, same order on both sides
    expected = loss.sample_points_using_uncertainty(logits, loss.calculate_uncertainty, 100, 3.0, 0.75)
    torch.manual_seed(4)
    assert torch.equal(uncertain_point_coords(logits, 100, 3.0, 0.75), expected)


# --- costs ------------------------------------------------------------------------------------------
def test_costs_equal_brute_force_per_pair():
    g = torch.Generator().manual_seed(1)
    logits, labels = torch.randn(5, 4, generator=g), torch.tensor([2, 0, 3])
    pred, tgt = torch.randn(5, 30, generator=g) * 3, torch.rand(3, 30, generator=g)
    tgt[:2] = (tgt[:2] > 0.5).float()  # binary rows plus one fractional row (bilinear GT at points)
    inputs = MatchInputs.from_rows(logits, labels, pred, tgt)
    costs = {
        "class": ClassCost(weight=2.0)(inputs), "bce": MaskBCECost(weight=5.0)(inputs),
        "focal": MaskFocalCost(weight=20.0)(inputs), "dice": DiceCost(weight=3.0)(inputs),
    }
    for q in range(5):
        for n in range(3):
            x, t = pred[q], tgt[n]
            p = x.sigmoid()
            bce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
            pos = F.binary_cross_entropy_with_logits(x, torch.ones_like(x), reduction="none")
            neg = F.binary_cross_entropy_with_logits(x, torch.zeros_like(x), reduction="none")
            focal = (0.25 * (1 - p) ** 2 * pos * t + 0.75 * p**2 * neg * (1 - t)).mean()
            dice = 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)
            assert costs["class"][q, n] == pytest.approx(-2.0 * logits[q].softmax(-1)[labels[n]].item(), abs=1e-6)
            assert costs["bce"][q, n] == pytest.approx(5.0 * bce.mean().item(), abs=1e-5)
            assert costs["focal"][q, n] == pytest.approx(20.0 * focal.item(), abs=1e-5)
            assert costs["dice"][q, n] == pytest.approx(3.0 * dice.item(), abs=1e-6)


def test_cost_matrix_is_float32_under_autocast():
    matcher = build(M2F_COSTS, num_points=None)
    target = random_targets([3], 4, (16, 16))[0]
    logits, masks = torch.randn(6, 5), torch.randn(6, 4, 4)
    ref = matcher.cost_matrix(logits, masks, target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = matcher.cost_matrix(logits.bfloat16(), masks.bfloat16(), target)
    assert low.dtype == torch.float32 and ref.shape == (6, 3)
    assert torch.allclose(low, ref, atol=0.1)  # only the bf16 inputs differ, not the arithmetic


# --- matcher invariants -----------------------------------------------------------------------------
@pytest.mark.parametrize("num_points,costs", [(50, M2F_COSTS), (None, MF_COSTS)])
def test_matcher_invariants(num_points, costs):
    targets = random_targets([3, 0, 7], 4, (16, 16))
    matcher = build(costs, num_points)
    indices = matcher(torch.randn(3, 5, 5), torch.randn(3, 5, 4, 4), targets)
    for (src, tgt), expected in zip(indices, [3, 0, 5]):  # n = min(Q, N)
        assert src.dtype == tgt.dtype == torch.int64
        assert len(src) == len(tgt) == expected
        assert len(set(src.tolist())) == expected and len(set(tgt.tolist())) == expected
        assert torch.equal(src, src.sort().values)
    assert set(indices[0][1].tolist()) == {0, 1, 2}  # k <= Q ground truths: every one used once


@pytest.mark.parametrize("num_points,costs", [(200, M2F_COSTS), (None, MF_COSTS)])
def test_perfect_prediction_matches_its_own_ground_truth(num_points, costs):
    num_classes, queries = 4, 6
    target = random_targets([4], num_classes, (16, 16), seed=3)[0]
    perm = torch.tensor([5, 0, 3, 1])  # query perm[i] predicts ground truth i
    class_logits = torch.full((1, queries, num_classes + 1), -10.0)
    class_logits[0, :, num_classes] = 10.0
    mask_logits = torch.full((1, queries, 16, 16), -10.0)
    for i, q in enumerate(perm.tolist()):
        class_logits[0, q] = -10.0
        class_logits[0, q, target.labels[i]] = 10.0
        mask_logits[0, q] = torch.where(target.masks[i], 10.0, -10.0)
    src, tgt = build(costs, num_points)(class_logits, mask_logits, [target])[0]
    assert torch.equal(perm[tgt], src)


def test_matcher_errors_name_the_problem():
    matcher = build(M2F_COSTS, num_points=10)
    bad = Targets(torch.tensor([7]), torch.ones(1, 8, 8, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        matcher(torch.randn(1, 3, 5), torch.randn(1, 3, 4, 4), [bad])
    ok = random_targets([2], 4, (8, 8))
    with pytest.raises(ValueError, match="NaN/inf"):
        matcher(torch.full((1, 3, 5), float("nan")), torch.randn(1, 3, 4, 4), ok)
    with pytest.raises(ValueError, match="Targets for a batch of 2"):
        matcher(torch.randn(2, 3, 5), torch.randn(2, 3, 4, 4), ok)
    with pytest.raises(KeyError, match="match cost"):
        build([dict(type="ClassCostt")], 10)


# --- parity with Hugging Face -------------------------------------------------------------------------
def random_predictions(batch: int, queries: int, classes: int, size: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    class_logits = torch.randn(batch, queries, classes, generator=g) * 2
    return class_logits, torch.randn(batch, queries, size, size, generator=g) * 3


@pytest.mark.parametrize("num_points", [300, None])
def test_cost_matrix_parity_with_hf_helpers(num_points):
    m2f = pytest.importorskip("transformers.models.mask2former.modeling_mask2former")
    mf = pytest.importorskip("transformers.models.maskformer.modeling_maskformer")
    target = random_targets([5], 7, (32, 32), seed=9)[0]
    class_logits, mask_logits = random_predictions(1, 8, 8, 8, seed=10)
    class_logits, mask_logits = class_logits[0], mask_logits[0]
    gt = target.masks.float()[:, None]
    torch.manual_seed(3)  # our matcher draws torch.rand(1, P, 2) first: replay it for the HF helpers
    if num_points is not None:
        coords = torch.rand(1, num_points, 2)
        gt_rows = m2f.sample_point(gt, coords.repeat(5, 1, 1), align_corners=False)[:, 0]
        pred_rows = m2f.sample_point(mask_logits[:, None], coords.repeat(8, 1, 1), align_corners=False)[:, 0]
        mask_cost = 5.0 * m2f.pair_wise_sigmoid_cross_entropy_loss(pred_rows, gt_rows)
        matcher, dice_weight = build(M2F_COSTS, num_points), 5.0
    else:
        gt_rows = F.interpolate(gt, size=(8, 8), mode="nearest")[:, 0].flatten(1)
        pred_rows = mask_logits.flatten(1)
        mask_cost = 20.0 * mf.pair_wise_sigmoid_focal_loss(pred_rows, gt_rows)
        matcher, dice_weight = build(MF_COSTS, None), 1.0
    class_weight = matcher.costs[0].weight
    expected = (mask_cost + dice_weight * m2f.pair_wise_dice_loss(pred_rows, gt_rows)
                - class_weight * class_logits.softmax(-1)[:, target.labels])
    torch.manual_seed(3)
    got = matcher.cost_matrix(class_logits, mask_logits, target)
    assert got.shape == (8, 5)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("class_weight", [1.0, 2.0])
def test_mask2former_matcher_parity_with_hf(class_weight):
    hf = pytest.importorskip("transformers.models.mask2former.modeling_mask2former")
    targets = random_targets([3, 0, 6], 7, (32, 32), seed=5)
    class_logits, mask_logits = random_predictions(3, 8, 8, 8, seed=12)
    hf_matcher = hf.Mask2FormerHungarianMatcher(cost_class=class_weight, cost_mask=5.0, cost_dice=5.0, num_points=300)
    costs = [dict(M2F_COSTS[0], weight=class_weight)] + M2F_COSTS[1:]
    ours = build(costs, num_points=300)
    # Both draw torch.rand(1, 300, 2) once per image in batch order from the global generator (HF also for the
    # image without ground truth), so seeding both the same gives both the same points.
    torch.manual_seed(11)
    expected = hf_matcher(mask_logits, class_logits, [t.masks.float() for t in targets], [t.labels for t in targets])
    torch.manual_seed(11)
    got = ours(class_logits, mask_logits, targets)
    for (s0, t0), (s1, t1) in zip(expected, got):
        assert torch.equal(s0, s1) and torch.equal(t0, t1)
    assert sum(len(s) for s, _ in got) == 9


def test_maskformer_matcher_parity_with_hf():
    hf = pytest.importorskip("transformers.models.maskformer.modeling_maskformer")
    targets = random_targets([4, 2], 7, (32, 32), seed=6)
    class_logits, mask_logits = random_predictions(2, 8, 8, 8, seed=13)
    hf_matcher = hf.MaskFormerHungarianMatcher(cost_class=1.0, cost_mask=20.0, cost_dice=1.0)
    expected = hf_matcher(mask_logits, class_logits, [t.masks.float() for t in targets], [t.labels for t in targets])
    got = build(MF_COSTS, num_points=None)(class_logits, mask_logits, targets)
    for (s0, t0), (s1, t1) in zip(expected, got):
        assert torch.equal(s0, s1) and torch.equal(t0, t1)
