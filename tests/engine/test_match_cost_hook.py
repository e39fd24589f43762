"""MatchCostScheduleHook sets the matcher's class-cost weight per iteration, and that changes the matching."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn

import segformers.models  # noqa: F401
from segformers.engine import MatchCostScheduleHook
from segformers.engine.match_cost_hook import piecewise_linear
from segformers.models.matchers import HungarianMatcher
from segformers.registry import HOOKS, MODELS
from segformers.structures import Targets
from toy_train_probes import M2F

POINTS = [(0, 10.0), (400, 10.0), (800, 2.0)]


def test_piecewise_linear_holds_ramps_and_stays():
    assert [piecewise_linear(POINTS, it) for it in (0, 399, 400, 500, 600, 799, 800, 5000)] == pytest.approx(
        [10.0, 10.0, 10.0, 8.0, 6.0, 2.02, 2.0, 2.0])
    assert piecewise_linear([(100, 3.0), (200, 1.0)], 0) == 3.0


def _matcher() -> HungarianMatcher:
    return HungarianMatcher(costs=[dict(type="ClassCost", weight=2.0), dict(type="MaskBCECost", weight=5.0)],
                            num_points=None)


def _crossed_case():
    """Query 0 is sure of class 0 but its mask is target 1's; query 1 the other way round."""
    class_logits = torch.tensor([[[6.0, -6.0, -6.0], [-6.0, 6.0, -6.0]]])
    left = torch.zeros(4, 4)
    left[:, :2] = 1
    masks = torch.stack([left, 1 - left])  # target 0: left half (class 0), target 1: right half (class 1)
    mask_logits = (torch.stack([1 - left, left]) * 2 - 1)[None] * 3.0  # query 0 covers the right half
    return class_logits, mask_logits, [Targets(labels=torch.tensor([0, 1]), masks=masks)]


def test_schedule_flips_the_matching_of_crossed_queries():
    model = nn.Module()
    model.matcher = _matcher()
    hook = MatchCostScheduleHook(cost_type="ClassCost", points=[(0, 50.0), (10, 50.0), (11, 0.1)])
    runner = SimpleNamespace(model=model, iter=0)
    hook.before_train(runner)
    class_logits, mask_logits, targets = _crossed_case()
    hook.before_train_iter(runner, 0)
    assert model.matcher.costs[0].weight == 50.0 and model.matcher.costs[1].weight == 5.0
    assert model.matcher(class_logits, mask_logits, targets)[0][1].tolist() == [0, 1]  # by class
    runner.iter = 11
    hook.before_train_iter(runner, 0)
    assert model.matcher.costs[0].weight == pytest.approx(0.1)
    assert model.matcher(class_logits, mask_logits, targets)[0][1].tolist() == [1, 0]  # by mask


def test_hook_finds_the_class_cost_of_the_quickstart_model():
    init_default_scope("segformers")
    cfg = Config.fromfile(M2F)
    model = MODELS.build(cfg.model)
    hook = HOOKS.build(dict(type="MatchCostScheduleHook", cost_type="ClassCost", points=POINTS))
    runner = SimpleNamespace(model=model, iter=600)
    hook.before_train(runner)
    hook.before_train_iter(runner, 0)
    weights = {type(c).__name__: c.weight for c in model.criterion.matcher.costs}
    assert weights == {"ClassCost": 6.0, "MaskBCECost": 5.0, "DiceCost": 5.0}


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match="strictly increasing"):
        MatchCostScheduleHook(cost_type="ClassCost", points=[(0, 1.0), (0, 2.0)])
    with pytest.raises(ValueError, match="needs points"):
        MatchCostScheduleHook(cost_type="ClassCost", points=[])
    model = nn.Module()
    model.matcher = _matcher()
    hook = MatchCostScheduleHook(cost_type="DiceCost", points=[(0, 1.0)])
    with pytest.raises(ValueError, match=r"no match cost of type 'DiceCost'.*ClassCost"):
        hook.before_train(SimpleNamespace(model=model, iter=0))
