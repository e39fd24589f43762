"""Losses and the set criterion: brute-force values, empty ground truth, num_masks, parity with HF."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from segformers.models.losses import (CrossEntropyLoss, DiceLoss, MaskBCELoss, MaskFocalLoss, average_num_masks,
                                      gather_matched_masks)
from segformers.registry import CRITERIA
from segformers.structures import DecoderOutput, Targets

K = 6  # classes
M2F_CRITERION = dict(
    type="SetCriterion",
    matcher=dict(type="HungarianMatcher", num_points=200, costs=[
        dict(type="ClassCost", weight=2.0), dict(type="MaskBCECost", weight=5.0), dict(type="DiceCost", weight=5.0)]),
    class_loss=dict(type="CrossEntropyLoss", loss_weight=2.0, no_object_weight=0.1),
    mask_losses=[dict(type="MaskBCELoss", loss_weight=5.0), dict(type="DiceLoss", loss_weight=5.0)],
    num_points=200, oversample_ratio=3.0, importance_sample_ratio=0.75,
)
MF_CRITERION = dict(
    type="SetCriterion",
    matcher=dict(type="HungarianMatcher", num_points=None, costs=[
        dict(type="ClassCost", weight=1.0), dict(type="MaskFocalCost", weight=20.0),
        dict(type="DiceCost", weight=1.0)]),
    class_loss=dict(type="CrossEntropyLoss", loss_weight=1.0, no_object_weight=0.1),
    mask_losses=[dict(type="MaskFocalLoss", loss_weight=20.0), dict(type="DiceLoss", loss_weight=1.0)],
    num_points=None,
)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def build(cfg: dict, **overrides):
    return CRITERIA.build(dict(cfg, **overrides), default_args=dict(num_classes=K))


def unweighted_terms(criterion, outputs: DecoderOutput, targets: list[Targets], indices=None, num_masks=None):
    """The criterion's terms before weighting, from its public per-set API: the matcher (or given
    ``indices``, one match list per set) and ``layer_terms``, in its processing order (the random draws'
    order)."""
    num_layers = len(outputs)
    num_masks = average_num_masks(targets) if num_masks is None else num_masks
    terms = {}
    for layer in criterion.layer_order(num_layers):
        cls, masks = outputs.class_logits[layer], outputs.mask_logits[layer]
        matches = criterion.matcher(cls, masks, targets) if indices is None else indices[layer]
        suffix = criterion.suffix(layer, num_layers)
        layer_terms = criterion.layer_terms(cls, masks, targets, matches, num_masks)
        terms.update({f"{key}{suffix}": value for key, value in layer_terms.items()})
    return terms


def make_batch(counts, sizes, layers=3, queries=7, seed=0):
    """Random DecoderOutput (mask logits at 8x8) and Targets with the given GT counts and mask sizes."""
    g = torch.Generator().manual_seed(seed)
    targets = [Targets(torch.randint(0, K, (n,), generator=g), torch.rand(n, *hw, generator=g) > 0.6)
               for n, hw in zip(counts, sizes)]
    b = len(counts)
    cls = [(torch.randn(b, queries, K + 1, generator=g) * 2).requires_grad_() for _ in range(layers)]
    masks = [(torch.randn(b, queries, 8, 8, generator=g) * 3).requires_grad_() for _ in range(layers)]
    return DecoderOutput(cls, masks), targets


# --- single losses against brute force -----------------------------------------------------------------
def test_cross_entropy_is_weighted_mean_over_all_queries():
    logits = torch.randn(2, 3, K + 1)
    target = torch.tensor([[0, K, K], [5, 2, K]])
    loss = CrossEntropyLoss(num_classes=K, no_object_weight=0.1)(logits, target)
    weights = torch.where(target == K, 0.1, 1.0)
    nll = -logits.log_softmax(-1).gather(-1, target[..., None])[..., 0]
    assert loss.item() == pytest.approx(((weights * nll).sum() / weights.sum()).item(), abs=1e-6)
    with pytest.raises(ValueError, match="num_classes \\+ 1 = 7"):
        CrossEntropyLoss(num_classes=K)(torch.randn(2, 3, 5), target)


def test_mask_losses_equal_brute_force_and_divide_by_num_masks():
    logits, labels = torch.randn(3, 40) * 2, (torch.rand(3, 40) > 0.5).float()
    labels[2] = torch.rand(40)  # fractional labels, as bilinear point labels can be
    bce, focal, dice = 0.0, 0.0, 0.0
    for x, t in zip(logits, labels):
        p = x.sigmoid()
        ce = -(t * torch.log(p) + (1 - t) * torch.log(1 - p))
        p_t = p * t + (1 - p) * (1 - t)
        bce += ce.mean().item()
        focal += ((0.25 * t + 0.75 * (1 - t)) * ce * (1 - p_t) ** 2).mean().item()
        dice += (1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)).item()
    assert MaskBCELoss()(logits, labels, 2.5).item() == pytest.approx(bce / 2.5, abs=1e-5)
    assert MaskFocalLoss()(logits, labels, 2.5).item() == pytest.approx(focal / 2.5, abs=1e-5)
    assert DiceLoss()(logits, labels, 2.5).item() == pytest.approx(dice / 2.5, abs=1e-5)


def test_bce_and_dice_share_the_same_sampled_points():
    criterion = build(M2F_CRITERION)
    outputs, targets = make_batch([3, 2], [(32, 32)] * 2, layers=1)
    matches = [(torch.tensor([0, 4, 6]), torch.tensor([2, 0, 1])), (torch.tensor([1, 3]), torch.tensor([1, 0]))]
    torch.manual_seed(5)
    terms = criterion.layer_terms(outputs.class_logits[0], outputs.mask_logits[0], targets, matches, 5.0)
    torch.manual_seed(5)  # one draw of points per pair; both losses must read them
    pred, gt = gather_matched_masks(outputs.mask_logits[0], targets, matches)
    logits, labels = criterion.sampler(pred, gt)
    assert logits.shape == (5, 200)
    assert terms["loss_mask"].item() == pytest.approx(MaskBCELoss()(logits, labels, 5.0).item(), abs=1e-6)
    assert terms["loss_dice"].item() == pytest.approx(DiceLoss()(logits, labels, 5.0).item(), abs=1e-6)


# --- criterion behaviour -------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [M2F_CRITERION, MF_CRITERION])
def test_empty_ground_truth_gives_class_loss_only(cfg):
    outputs, targets = make_batch([0, 0], [(32, 32)] * 2)
    losses = build(cfg)(outputs, targets)
    assert len(losses) == 9
    for key, value in losses.items():
        if key.startswith("loss_ce"):
            assert value.item() > 0
        else:
            assert value.item() == 0.0
    sum(losses.values()).backward()
    assert all(torch.count_nonzero(m.grad) == 0 for m in outputs.mask_logits)
    assert all(torch.count_nonzero(c.grad) > 0 for c in outputs.class_logits)


def test_forward_weights_the_terms_and_names_every_layer():
    criterion = build(M2F_CRITERION)
    outputs, targets = make_batch([3, 1], [(32, 32)] * 2, layers=3)
    torch.manual_seed(1)
    weighted = criterion(outputs, targets)
    torch.manual_seed(1)
    terms = unweighted_terms(criterion, outputs, targets)
    names = ["loss_ce", "loss_mask", "loss_dice"]
    assert list(weighted) == names + [f"{n}_{i}" for i in range(2) for n in names]
    for key, value in weighted.items():
        weight = {"ce": 2.0, "mask": 5.0, "dice": 5.0}[key.split("_")[1]]
        assert value.item() == pytest.approx(weight * terms[key].item(), rel=1e-6)
    sum(weighted.values()).backward()
    assert all(m.grad is not None and m.grad.abs().sum() > 0 for m in outputs.mask_logits)
    assert list(build(M2F_CRITERION, deep_supervision=False)(outputs, targets)) == names


def test_average_num_masks_counts_clamps_and_averages_over_ranks(monkeypatch):
    targets = [Targets(torch.zeros(n, dtype=torch.long), torch.zeros(n, 4, 4, dtype=torch.bool)) for n in (3, 0, 2)]
    assert average_num_masks(targets) == 5.0
    assert average_num_masks([targets[1]]) == 1.0 and average_num_masks(0) == 1.0
    # Simulate two ranks: the other rank holds `other` masks; the sum is divided by the world size.
    import torch.distributed as dist

    other = {"n": 7.0}
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(dist, "all_reduce", lambda t: t.add_(other["n"]))
    assert average_num_masks(targets) == 6.0  # (5 + 7) / 2
    other["n"] = 1.0
    assert average_num_masks(0) == 1.0  # (0 + 1) / 2 = 0.5, clamped


def test_criterion_errors_name_the_problem():
    with pytest.raises(ValueError, match="unique"):
        build(M2F_CRITERION, mask_losses=[dict(type="MaskBCELoss"), dict(type="DiceLoss", name="mask")])
    with pytest.raises(KeyError, match="loss"):
        build(M2F_CRITERION, mask_losses=[dict(type="DiceLos")])
    outputs, targets = make_batch([1, 1], [(16, 16)] * 2)
    with pytest.raises(ValueError, match="3 Targets for a batch of 2"):
        build(M2F_CRITERION)(outputs, targets + targets[:1])


# --- parity with Hugging Face ------------------------------------------------------------------------------
def hf_names(losses: dict) -> dict:
    return {k.replace("loss_cross_entropy", "loss_ce"): v for k, v in losses.items()}


def hf_args(outputs: DecoderOutput, targets: list[Targets]) -> tuple:
    aux = [dict(masks_queries_logits=m, class_queries_logits=c)
           for c, m in zip(outputs.class_logits[:-1], outputs.mask_logits[:-1])]
    return (outputs.mask_logits[-1], outputs.class_logits[-1], [t.masks.float() for t in targets],
            [t.labels for t in targets], aux)


def hf_criterion(kind: str):
    if kind == "m2f":
        hf = pytest.importorskip("transformers.models.mask2former.modeling_mask2former")
        config = hf.Mask2FormerConfig(num_labels=K, train_num_points=200, oversample_ratio=3.0,
                                      importance_sample_ratio=0.75, no_object_weight=0.1,
                                      class_weight=2.0, mask_weight=5.0, dice_weight=5.0)
        return hf.Mask2FormerLoss(config, weight_dict={}), build(M2F_CRITERION)
    hf = pytest.importorskip("transformers.models.maskformer.modeling_maskformer")
    matcher = hf.MaskFormerHungarianMatcher(cost_class=1.0, cost_mask=20.0, cost_dice=1.0)
    return hf.MaskFormerLoss(K, matcher=matcher, weight_dict={}, eos_coef=0.1), build(MF_CRITERION)


@pytest.mark.parametrize("kind", ["m2f", "mf"])
def test_loss_terms_parity_with_hf_given_matches(kind):
    hf, ours = hf_criterion(kind)
    # one image has smaller masks: both sides zero-pad bottom/right to the batch maximum
    outputs, targets = make_batch([3, 0, 5], [(32, 32), (32, 32), (24, 28)], layers=4, seed=2)
    indices = [ours.matcher(c, m, targets) for c, m in zip(outputs.class_logits, outputs.mask_logits)]
    masks, labels = [t.masks.float() for t in targets], [t.labels for t in targets]
    # Mask2Former's point sampling is random. Both sides draw, per prediction set and in the same order
    # (final set, then auxiliary 0, 1, ...), torch.rand(M, 3P, 2) then torch.rand(M, P/4, 2) from the global
    # generator with the matched pairs in the same (batch, matcher) order, so one seed lines them up.
    torch.manual_seed(7)
    expected = {}
    for layer in [3, 0, 1, 2]:
        suffix = "" if layer == 3 else f"_{layer}"
        c, m = outputs.class_logits[layer], outputs.mask_logits[layer]
        terms = {**hf.loss_masks(m, masks, indices[layer], 8.0), **hf.loss_labels(c, labels, indices[layer])}
        expected.update({f"{k}{suffix}": v for k, v in hf_names(terms).items()})
    torch.manual_seed(7)
    got = unweighted_terms(ours, outputs, targets, indices=indices, num_masks=8.0)
    assert set(got) == set(expected) and len(got) == 12
    for key in got:
        torch.testing.assert_close(got[key], expected[key], atol=1e-5, rtol=1e-5, msg=key)


@pytest.mark.parametrize("kind", ["m2f", "mf"])
def test_full_forward_parity_with_hf(kind):
    hf, ours = hf_criterion(kind)
    outputs, targets = make_batch([3, 0, 5], [(32, 32)] * 3, layers=3, seed=4)
    # Matching included: per prediction set both draw the matcher's torch.rand(1, P, 2) per image, then the
    # loss points, in the same order, so the same seed gives the same matches and points.
    torch.manual_seed(8)
    expected = hf_names(hf(*hf_args(outputs, targets)))
    torch.manual_seed(8)
    got = unweighted_terms(ours, outputs, targets)
    assert set(got) == set(expected) and len(got) == 9
    for key in got:
        torch.testing.assert_close(got[key], expected[key], atol=1e-5, rtol=1e-5, msg=key)
    # gradients agree too
    grads_hf = torch.autograd.grad(sum(expected.values()), outputs.mask_logits + outputs.class_logits)
    grads = torch.autograd.grad(sum(got.values()), outputs.mask_logits + outputs.class_logits)
    for a, b in zip(grads, grads_hf):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
