"""Change the weight of one Hungarian match cost over training (e.g. a strong class cost early only)."""
from __future__ import annotations

from typing import Any, List, Sequence, Tuple

import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from segformers.registry import HOOKS, MATCH_COSTS


def piecewise_linear(points: Sequence[Tuple[int, float]], it: int) -> float:
    """Value at iteration ``it`` of the polyline through ``points`` ``[(iteration, value), ...]``
    (sorted by iteration); constant before the first and after the last point (``np.interp``)."""
    return float(np.interp(it, [p[0] for p in points], [p[1] for p in points]))


@HOOKS.register_module()
class MatchCostScheduleHook(Hook):
    """Sets ``weight`` of every match cost of type ``cost_type`` in the model's matchers before each
    training iteration to the polyline through ``points``.

    Args:
        cost_type: class name of the cost, e.g. ``"ClassCost"``.
        points: ``[(iteration, weight), ...]`` with increasing iterations; linear in between, constant
            outside. ``[(0, 10.0), (400, 10.0), (401, 2.0)]``: class cost 10 for iterations 0-400, then 2.

    The weight is a function of the iteration only, so ``--resume`` continues the same schedule.
    """

    priority = "NORMAL"

    def __init__(self, *, cost_type: str, points: Sequence[Sequence[float]]) -> None:
        pts = [(int(p[0]), float(p[1])) for p in points]
        if not pts:
            raise ValueError("MatchCostScheduleHook needs points=[(iteration, weight), ...], got none")
        if any(b[0] <= a[0] for a, b in zip(pts, pts[1:])):
            raise ValueError(f"MatchCostScheduleHook points must have strictly increasing iterations, got {pts}")
        self.cost_type = cost_type
        self.points = pts
        self._costs: List[nn.Module] = []

    def _find_costs(self, model: nn.Module) -> List[nn.Module]:
        """The model's match costs of type ``cost_type``: modules whose class is the ``MATCH_COSTS`` entry
        of that name (the registry, not an import of the matcher code: the engine knows no model part)."""
        costs = [m for m in model.modules() if type(m) is MATCH_COSTS.get(self.cost_type)]
        if not costs:
            found = sorted({type(m).__name__ for m in model.modules() if MATCH_COSTS.get(type(m).__name__) is type(m)})
            raise ValueError(f"MatchCostScheduleHook: the model has no match cost of type {self.cost_type!r} "
                             f"(it has {found}); set cost_type to one of those")
        return costs

    def before_train(self, runner: Any) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._costs = self._find_costs(model)

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        weight = piecewise_linear(self.points, runner.iter)
        for cost in self._costs:
            cost.weight = weight
