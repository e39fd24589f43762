"""Closed-form learning-rate schedules of the official code, as mmengine parameter schedulers.

mmengine's ``PolyLR`` / ``LinearLR`` / ``MultiStepLR`` update the lr recursively (multiplying the
previous value) and ``PolyLR`` decays over ``end - begin - 1`` steps; detectron2 computes each lr from
the base lr. These schedulers do the latter, so every iteration's lr equals detectron2's formula bit for
bit (``WarmupPolyLR`` of DeepLab, ``WarmupMultiStepLR``). They overwrite the lr (not chainable with other
lr schedulers) and read the base lr of each group (``initial_lr``), which keeps per-group multipliers.
"""
from __future__ import annotations

import bisect
import math
from typing import Sequence

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler

from ..registry import PARAM_SCHEDULERS


def get_warmup_factor(method: str, it: int, warmup_iters: int, factor: float) -> float:
    """detectron2's ``_get_warmup_factor_at_iter``: 1 after warm-up, else constant or linear ramp."""
    if it >= warmup_iters:
        return 1.0
    if method == "constant":
        return factor
    if method == "linear":
        alpha = it / warmup_iters
        return factor * (1 - alpha) + alpha
    raise ValueError(f"Unknown warmup_method '{method}'; use 'linear' or 'constant'.")


class _WarmupScheduler(LRSchedulerMixin, _ParamScheduler):
    """Shared warm-up arguments; subclasses define :meth:`factor`."""

    def __init__(self, optimizer, warmup_iters: int = 0, warmup_factor: float = 1.0,  # noqa: ANN001
                 warmup_method: str = "linear", begin: int = 0, end: int = INF, last_step: int = -1,
                 by_epoch: bool = False, verbose: bool = False) -> None:
        if warmup_method not in ("linear", "constant"):
            raise ValueError(f"Unknown warmup_method '{warmup_method}'; use 'linear' or 'constant'.")
        self.warmup_iters, self.warmup_factor, self.warmup_method = warmup_iters, warmup_factor, warmup_method
        super().__init__(optimizer, begin=begin, end=end, last_step=last_step, by_epoch=by_epoch, verbose=verbose)

    def warmup(self, it: int) -> float:
        """The warm-up multiplier at iteration ``it``."""
        return get_warmup_factor(self.warmup_method, it, self.warmup_iters, self.warmup_factor)

    def lr_at(self, base_lr: float, it: int) -> float:
        raise NotImplementedError

    def _get_value(self) -> list[float]:
        return [self.lr_at(base, self.last_step) for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class WarmupPolyLR(_WarmupScheduler):
    """``lr = base_lr * warmup(t) * (1 - t / max_iters) ** power`` (DeepLab ``WarmupPolyLR``).

    With ``constant_ending > 0`` the lr stops at ``base_lr * constant_ending`` once the poly factor falls
    below it (after warm-up). Past ``max_iters`` the factor stays 0.

    Args:
        max_iters: the poly horizon (the training length); ``end`` defaults to it.
        power: 0.9 in both papers. warmup_iters / warmup_factor / warmup_method: the linear warm-up
            (``factor * (1 - a) + a``, ``a = t / warmup_iters``); none by default.
    """

    def __init__(self, optimizer, max_iters: int, power: float = 0.9, constant_ending: float = 0.0,  # noqa: ANN001
                 end: int | None = None, **kwargs) -> None:
        if max_iters <= 0:
            raise ValueError(f"max_iters must be positive, got {max_iters}.")
        self.max_iters, self.power, self.constant_ending = max_iters, power, constant_ending
        super().__init__(optimizer, end=max_iters if end is None else end, **kwargs)

    def lr_at(self, base_lr: float, it: int) -> float:
        """The lr of a group with base lr ``base_lr`` at iteration ``it`` (detectron2's operation order)."""
        warm = self.warmup(it)
        poly = math.pow(max(1.0 - it / self.max_iters, 0.0), self.power)
        if self.constant_ending > 0 and warm == 1.0 and poly < self.constant_ending:
            return base_lr * self.constant_ending
        return base_lr * warm * poly


@PARAM_SCHEDULERS.register_module()
class WarmupMultiStepLR(_WarmupScheduler):
    """``lr = base_lr * warmup(t) * gamma ** (number of milestones <= t)`` (detectron2 multi-step).

    Args:
        milestones: iterations at which the lr is multiplied by ``gamma`` (the new lr applies from
            that iteration on). warmup_*: as in :class:`WarmupPolyLR`.
    """

    def __init__(self, optimizer, milestones: Sequence[int], gamma: float = 0.1, **kwargs) -> None:  # noqa: ANN001
        if list(milestones) != sorted(milestones):
            raise ValueError(f"milestones must be increasing, got {list(milestones)}.")
        self.milestones, self.gamma = [int(m) for m in milestones], gamma
        super().__init__(optimizer, **kwargs)

    def lr_at(self, base_lr: float, it: int) -> float:
        """The lr of a group with base lr ``base_lr`` at iteration ``it``."""
        return base_lr * (self.warmup(it) * self.gamma ** bisect.bisect_right(self.milestones, it))
