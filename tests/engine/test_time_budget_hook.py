"""TimeBudgetHook moves the end of training and the end-anchored lr phases to what fits in the budget;
the moved schedule equals one configured there from the start, and a resumed run keeps the decision."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.optim.scheduler import LinearLR, PolyLR
from toy_train_probes import M2F, make_toy_data, tiny_overrides, write_tiny_config

from segformers.apis.runner import build_runner
from segformers.engine import TimeBudgetHook


class FakeClock:
    """Seconds advanced by hand (one tick per training iteration)."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _schedulers(decay_begin: int, decay_end: int) -> tuple[torch.optim.Optimizer, list]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    return opt, [LinearLR(opt, start_factor=0.1, end_factor=1.0, begin=0, end=10, by_epoch=False),
                 LinearLR(opt, start_factor=1.0, end_factor=0.0, begin=decay_begin, end=decay_end, by_epoch=False)]


class _Loop:
    """The part of mmengine's IterBasedTrainLoop the hook uses."""

    def __init__(self, max_iters: int) -> None:
        self._max_iters = self.val_interval = max_iters

    @property
    def max_iters(self) -> int:
        return self._max_iters


def _fake_runner(schedulers: list, max_iters: int) -> SimpleNamespace:
    return SimpleNamespace(train_loop=_Loop(max_iters), param_schedulers=schedulers, iter=0)


def _train(hook: TimeBudgetHook, runner: SimpleNamespace, opt, seconds_per_iter) -> list[float]:
    """The lr of each iteration, stepping the schedulers as mmengine's ParamSchedulerHook does.
    ``seconds_per_iter``: a number, or a function of the iteration."""
    clock, lrs = hook.clock, []
    hook.before_train(runner)
    while runner.iter < runner.train_loop.max_iters:
        lrs.append(opt.param_groups[0]["lr"])
        clock.t += seconds_per_iter(runner.iter) if callable(seconds_per_iter) else seconds_per_iter
        opt.step()
        hook.after_train_iter(runner, runner.iter)
        for s in runner.param_schedulers:
            s.step()
        runner.iter += 1
    return lrs


def _reference_lrs(decay_begin: int, end: int) -> list[float]:
    opt, scheds = _schedulers(decay_begin, end)
    lrs = []
    for _ in range(end):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        for s in scheds:
            s.step()
    return lrs


@pytest.mark.parametrize("seconds_per_iter, end", [(1.0, 150), (2.0, 75), (0.5, 300)])
def test_the_end_moves_to_the_budget_and_the_decay_with_it(seconds_per_iter, end):
    opt, scheds = _schedulers(60, 100)  # nominal: warm-up 0-10, decay over the last 40 of 100 iterations
    runner = _fake_runner(scheds, 100)
    hook = TimeBudgetHook(budget_s=150, check_interval=10, skip_iters=2, clock=FakeClock())
    lrs = _train(hook, runner, opt, seconds_per_iter)
    assert hook.fixed and runner.train_loop.max_iters == end == len(lrs)
    assert runner.train_loop.val_interval == end
    assert [(s.begin, s.end) for s in scheds] == [(0, 10), (end - 40, end)]
    assert lrs == _reference_lrs(end - 40, end)  # as if configured for `end` iterations from the start
    assert lrs[end - 41] == 1.0 and lrs[-1] == 0.0  # mmengine's LinearLR reaches end_factor at its last step


def test_a_budget_too_small_for_the_decay_keeps_the_decay_whole():
    opt, scheds = _schedulers(60, 100)
    runner = _fake_runner(scheds, 100)
    hook = TimeBudgetHook(budget_s=30, check_interval=10, skip_iters=2, clock=FakeClock())
    lrs = _train(hook, runner, opt, 1.0)
    assert len(lrs) == 50 and scheds[1].begin == 10  # decided at the first check (10): the decay starts there
    assert lrs == _reference_lrs(10, 50)


@pytest.mark.parametrize("stop_at_budget", [False, True])
def test_a_slowdown_after_the_decision_is_cut_at_the_budget_when_asked(stop_at_budget):
    """1 s per iteration until iteration 120 (the end is fixed at 150 at iteration 110), then 3 s: the
    schedule alone would run to 210 s; with ``stop_at_budget`` training stops at the last check from which
    the next 10 iterations at the recent speed would pass 150 s."""
    opt, scheds = _schedulers(60, 100)
    runner = _fake_runner(scheds, 100)
    hook = TimeBudgetHook(budget_s=150, check_interval=10, skip_iters=2, stop_at_budget=stop_at_budget,
                          clock=FakeClock())
    lrs = _train(hook, runner, opt, lambda it: 1.0 if it < 120 else 3.0)
    spent = hook._elapsed()
    if not stop_at_budget:
        assert len(lrs) == 150 and spent == 210.0 and lrs[-1] == 0.0
        return
    # checks at 130 (150 s spent by then? 120 + 30 = 150: the next 10 would pass) -> stop at 130
    assert len(lrs) == runner.train_loop.max_iters == 130 and spent == 150.0
    assert lrs == _reference_lrs(110, 150)[:130]  # the planned schedule, cut short: the decay had begun
    assert [(s.begin, s.end) for s in scheds] == [(0, 10), (110, 150)]


def test_a_schedule_over_the_whole_run_is_refused():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    runner = _fake_runner([PolyLR(opt, eta_min=0.0, begin=0, end=100, by_epoch=False)], 100)
    with pytest.raises(ValueError, match="PolyLR runs from iteration 0"):
        TimeBudgetHook(budget_s=10).before_train(runner)
    with pytest.raises(ValueError, match="budget_s > 0"):
        TimeBudgetHook(budget_s=0)


def test_resume_keeps_the_moved_end_and_the_spent_time():
    opt, scheds = _schedulers(60, 100)
    runner = _fake_runner(scheds, 100)
    clock = FakeClock()
    hook = TimeBudgetHook(budget_s=150, check_interval=10, skip_iters=2, clock=clock)
    hook.before_train(runner)
    for it in range(120):  # 1 s per iteration: the end is fixed at 150 at iteration 100
        runner.iter = it
        clock.t += 1.0
        hook.after_train_iter(runner, it)
    checkpoint = {"meta": {}}
    hook.before_save_checkpoint(runner, checkpoint)
    assert checkpoint["meta"]["time_budget"] == dict(max_iters=150, fixed=True, spent_s=120.0)

    fresh_runner = _fake_runner(scheds, 100)  # as built from the config; resume sets the iteration
    fresh_runner.iter = 120
    resumed = TimeBudgetHook(budget_s=150, clock=FakeClock())
    resumed.after_load_checkpoint(fresh_runner, checkpoint)
    resumed.before_train(fresh_runner)
    assert fresh_runner.train_loop.max_iters == 150 and resumed.fixed
    assert resumed._elapsed() == 120.0


class Tick(Hook):
    """Advances a fake clock by one second per training iteration and records the first group's lr."""

    priority = "VERY_LOW"

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.lrs = clock, []

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:  # noqa: ANN001
        self.clock.t += 1.0
        self.lrs.append(runner.optim_wrapper.get_lr()["lr"][0])


def _real_run(root: str, work_dir: str, name: str, crash_after: Optional[int] = None,
              resume: bool = False) -> tuple[Any, list[float]]:
    """A tiny quick-start run (nominal 20 iterations, decay over the last 6) with a 12-s budget on a
    fake clock of one second per iteration; returns the runner and the lr of each iteration it ran."""
    overrides = tiny_overrides(root, True, 20, batch_size=2,
                               hooks=[dict(type="LossRecorderHook", crash_after=crash_after)])
    overrides["param_scheduler"] = [
        dict(type="LinearLR", start_factor=0.1, end_factor=1.0, begin=0, end=3, by_epoch=False),
        dict(type="LinearLR", start_factor=1.0, end_factor=0.0, begin=14, end=20, by_epoch=False)]
    overrides["default_hooks"]["checkpoint"] = dict(interval=2)
    cfg = Config.fromfile(write_tiny_config(str(Path(work_dir).parent / f"{name}.py"), M2F, overrides))
    cfg.merge_from_dict(dict(work_dir=work_dir, experiment_name=name, visualizer=dict(name=name), resume=resume))
    runner = build_runner(cfg)
    clock = FakeClock()
    runner.register_hook(TimeBudgetHook(budget_s=12, check_interval=2, skip_iters=1, clock=clock))
    tick = Tick(clock)
    runner.register_hook(tick)
    if crash_after is None:
        runner.train()
    else:
        with pytest.raises(KeyboardInterrupt):
            runner.train()
    return runner, tick.lrs


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory) -> str:
    return make_toy_data(str(tmp_path_factory.mktemp("toy")), num_train=8)


def test_a_real_run_ends_at_the_budget_with_the_decay_moved(toy_root, tmp_path):
    runner, lrs = _real_run(toy_root, str(tmp_path / "work"), "time_budget")
    assert runner.iter == 12 and len(lrs) == 12  # 12 iterations of one (fake) second
    base = lrs[3]  # after the warm-up (the first group's lr, whatever its multiplier)
    assert lrs[0] == pytest.approx(0.1 * base) and lrs[6] == pytest.approx(base)  # constant until the decay
    assert lrs[7] == pytest.approx(base * 4 / 5) and lrs[11] == 0.0  # 6 iterations, the last at 0
    meta = torch.load(str(tmp_path / "work" / "iter_12.pth"), weights_only=True)["meta"]
    assert meta["time_budget"] == dict(max_iters=12, fixed=True, spent_s=12.0)


def test_resume_before_the_decision_ends_where_the_uninterrupted_run_ends(toy_root, tmp_path):
    _, full = _real_run(toy_root, str(tmp_path / "full"), "time_budget_full")
    work = str(tmp_path / "crashed")
    _real_run(toy_root, work, "time_budget_crash", crash_after=3)  # last checkpoint: iteration 2, end not fixed
    meta = torch.load(str(tmp_path / "crashed" / "iter_2.pth"), weights_only=True)["meta"]
    assert meta["time_budget"] == dict(max_iters=12, fixed=False, spent_s=2.0)
    runner, resumed = _real_run(toy_root, work, "time_budget_resumed", resume=True)
    assert runner.iter == 12 and len(resumed) == 10  # iterations 3-12, with the 2 s spent before counted
    assert resumed == pytest.approx(full[2:], rel=1e-12, abs=0.0)
