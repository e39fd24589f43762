"""Fit an iteration-based schedule into a wall-clock budget: the end of training moves to the iteration
that the measured speed reaches within ``budget_s``, and the schedule's end-anchored phases move with it.

Budgeted training (Li et al., ICLR 2020) favours exactly such schedules: a linear decay to zero over the
last part of whatever number of iterations the budget allows. The config states the schedule for its
nominal ``max_iters``; on a faster machine the constant phase is longer, on a slower one shorter, and the
decay keeps its length and ends with training.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, List, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log

from ..registry import HOOKS

META_KEY = "time_budget"


def _schedulers(runner: Any) -> List[Any]:
    scheds = runner.param_schedulers or []
    if isinstance(scheds, dict):
        return [s for group in scheds.values() for s in group]
    return list(scheds)


def _end_loop_at(loop: Any, end: int) -> None:
    """The loop's last iteration becomes ``end`` (a validation planned at the old end moves with it)."""
    if getattr(loop, "val_interval", None) == loop.max_iters:
        loop.val_interval = end
    loop._max_iters = end


def _min_over_ranks(value: int) -> int:
    """The smallest ``value`` over all ranks (every rank must call this at the same iteration)."""
    if get_world_size() == 1:
        return value
    t = torch.tensor([value], dtype=torch.int64)
    all_reduce(t, op="min")
    return int(t.item())


@HOOKS.register_module()
class TimeBudgetHook(Hook):
    """Ends training when ``budget_s`` seconds of the training loop are spent, keeping the schedule's shape.

    The parameter schedulers that end at the config's ``max_iters`` (e.g. a ``LinearLR`` decay over the
    last 1000 iterations) are *end-anchored*; schedulers ending earlier (warm-up) or never (``end=INF``)
    are left alone. Every ``check_interval`` iterations the ranks agree (minimum over ranks) on the last
    iteration that fits, ``iter + (budget_s - elapsed) / seconds_per_iter`` with the speed measured since
    iteration ``skip_iters`` (the first iterations are slower); the loop's ``max_iters`` and the
    end-anchored schedulers (which keep their length) move there. Once those schedulers would begin
    before the next check, the end is fixed. They never begin at their old place: a move keeps them
    after the next check.

    Args:
        budget_s: seconds from the start of the training loop to its last iteration (process start-up,
            the final checkpoint and evaluation are outside it).
        check_interval: iterations between two estimates.
        skip_iters: iterations left out of the speed estimate.
        stop_at_budget: once the end is fixed, keep checking: if the next ``check_interval`` iterations at
            the speed of the last ones would run past ``budget_s``, stop now (the machine slowed down
            after the decision). The decay is then cut short, near its end, instead of the budget being
            exceeded. Off by default: the run then always finishes its schedule.
        clock: seconds as a float (tests pass a fake clock).

    A scheduler that runs up to ``max_iters`` from before the first estimate (e.g. a poly decay over the
    whole run) cannot be moved: :meth:`before_train` refuses it. ``--resume`` restores the moved end and
    schedulers (checkpoint meta and scheduler states) and continues with the budget the run had left.
    """

    priority = "VERY_HIGH"  # before ParamSchedulerHook steps the schedulers in after_train_iter

    def __init__(self, budget_s: float, check_interval: int = 50, skip_iters: int = 20,
                 stop_at_budget: bool = False, clock: Callable[[], float] = time.perf_counter) -> None:
        if budget_s <= 0 or check_interval < 1 or skip_iters < 0:
            raise ValueError(f"TimeBudgetHook needs budget_s > 0, check_interval >= 1 and skip_iters >= 0; got "
                             f"{budget_s}, {check_interval}, {skip_iters}")
        self.budget_s, self.check_interval, self.skip_iters = float(budget_s), check_interval, skip_iters
        self.stop_at_budget = stop_at_budget
        self.clock = clock
        self._last_check, self._last_check_iter = 0.0, 0  # clock and iterations done at the last check
        self.fixed = False
        self._spent_before = 0.0  # seconds of the budget spent before a resume
        self._loaded: Optional[Dict[str, Any]] = None
        self._anchored: List[Any] = []
        self._tail = 0  # iterations from the first end-anchored scheduler's begin to the end
        self._start = self._skip_time = 0.0
        self._start_iter = 0

    # -- bookkeeping ---------------------------------------------------------------------------------
    def after_load_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        self._loaded = checkpoint.get("meta", {}).get(META_KEY)

    def before_save_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        checkpoint.setdefault("meta", {})[META_KEY] = dict(
            max_iters=runner.train_loop.max_iters, fixed=self.fixed, spent_s=self._elapsed())

    def _elapsed(self) -> float:
        return self._spent_before + self.clock() - self._start

    def before_train(self, runner: Any) -> None:
        loop = runner.train_loop
        if runner.iter > 0 and self._loaded is not None:  # resumed: the run's end, decision and spent time
            loop._max_iters = int(self._loaded["max_iters"])
            self.fixed, self._spent_before = bool(self._loaded["fixed"]), float(self._loaded["spent_s"])
        self._start, self._start_iter = self.clock(), runner.iter
        self._last_check, self._last_check_iter = self._start, runner.iter
        self._skip_time = self._start
        self._anchored = [s for s in _schedulers(runner) if s.end == loop.max_iters]
        self._tail = loop.max_iters - min([s.begin for s in self._anchored], default=loop.max_iters)
        if self.fixed:
            return
        first_check = (runner.iter // self.check_interval + 1) * self.check_interval
        for s in self._anchored:
            if s.begin <= first_check:
                raise ValueError(
                    f"TimeBudgetHook moves the end of training, but {type(s).__name__} runs from iteration "
                    f"{s.begin} (not after the first estimate at {first_check}) to max_iters={loop.max_iters}. "
                    f"Give the schedule end-anchored phases that begin later (e.g. a LinearLR decay over the "
                    f"last N iterations) or drop the hook.")

    # -- moving the end ------------------------------------------------------------------------------
    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        done = runner.iter + 1  # iterations done; the schedulers step to this count after this hook
        measured = done - self._start_iter - self.skip_iters
        if measured == 0:
            self._skip_time = self.clock()
        if done % self.check_interval or measured < 1:
            return
        now = self.clock()
        recent = (now - self._last_check) / max(done - self._last_check_iter, 1)
        self._last_check, self._last_check_iter = now, done
        if self.fixed:
            if self.stop_at_budget and done < runner.train_loop.max_iters:
                self._stop_if_next_check_is_over(runner, done, recent)
            return
        per_iter = (now - self._skip_time) / measured
        fits = done + max(int((self.budget_s - self._elapsed()) / per_iter), 0)
        fits = _min_over_ranks(fits)
        if fits - self._tail > done + self.check_interval:  # the phases still begin after the next check
            self._move_end(runner, fits)
            return
        end = max(fits, done + self._tail)  # fixed now: the phases may begin at the next step
        self._move_end(runner, end)
        self.fixed = True
        over = " (less than the end-anchored phases need: the budget will be exceeded)" if end > fits else ""
        print_log(f"TimeBudgetHook: {per_iter:.4f} s per iteration, {self._elapsed():.0f} of {self.budget_s:.0f} s "
                  f"spent at iteration {done}: training ends at iteration {end}{over}",
                  logger="current", level=logging.WARNING if over else logging.INFO)

    def _stop_if_next_check_is_over(self, runner: Any, done: int, recent_per_iter: float) -> None:
        over = self._elapsed() + self.check_interval * recent_per_iter > self.budget_s
        if _min_over_ranks(0 if over else 1):  # every rank stops at the same iteration, or none does
            return
        planned = runner.train_loop.max_iters
        _end_loop_at(runner.train_loop, done)
        print_log(f"TimeBudgetHook: {self._elapsed():.0f} of {self.budget_s:.0f} s spent at iteration {done} "
                  f"({recent_per_iter:.4f} s per iteration of late): stopping there, {planned - done} "
                  f"iterations before the planned end", logger="current", level=logging.WARNING)

    def _move_end(self, runner: Any, end: int) -> None:
        loop = runner.train_loop
        shift = end - loop.max_iters
        for s in self._anchored:
            s.begin, s.end = s.begin + shift, s.end + shift
        _end_loop_at(loop, end)
