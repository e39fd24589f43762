"""Schedules equal detectron2's formulas at every iteration; the schedule / runtime configs are sound."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from segformers.engine import WarmupMultiStepLR, WarmupPolyLR
from segformers.registry import HOOKS, LOOPS, PARAM_SCHEDULERS

CONFIGS = osp.join(osp.dirname(__file__), "..", "..", "configs", "_base_")


def d2_warmup_poly(base_lr, it, max_iters, power, warmup_iters, warmup_factor, constant_ending=0.0):
    """DeepLab's WarmupPolyLR.get_lr, written out."""
    wf = 1.0
    if it < warmup_iters:
        alpha = it / warmup_iters
        wf = warmup_factor * (1 - alpha) + alpha
    if constant_ending > 0 and wf == 1.0 and math.pow(1.0 - it / max_iters, power) < constant_ending:
        return base_lr * constant_ending
    return base_lr * wf * math.pow(1.0 - it / max_iters, power)


def optimizer():
    params = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    return torch.optim.AdamW([{"params": [params[0]], "lr": 1e-4}, {"params": [params[1]], "lr": 1e-5}])


def trace(scheduler, opt, steps):
    lrs = []
    for _ in range(steps):
        lrs.append([g["lr"] for g in opt.param_groups])
        opt.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize("warmup_iters,warmup_factor,constant_ending", [(0, 1.0, 0.0), (150, 1e-6, 0.0), (10, 0.1, 0.05)])
def test_warmup_poly_equals_detectron2_bit_for_bit(warmup_iters, warmup_factor, constant_ending):
    opt, max_iters = optimizer(), 1000
    sched = WarmupPolyLR(opt, max_iters=max_iters, power=0.9, warmup_iters=warmup_iters, warmup_factor=warmup_factor,
                         constant_ending=constant_ending)
    lrs = trace(sched, opt, max_iters)
    for it, (lr0, lr1) in enumerate(lrs):
        assert lr0 == d2_warmup_poly(1e-4, it, max_iters, 0.9, warmup_iters, warmup_factor, constant_ending)
        assert lr1 == d2_warmup_poly(1e-5, it, max_iters, 0.9, warmup_iters, warmup_factor, constant_ending)
    assert lrs[0][0] == pytest.approx(1e-4 * warmup_factor)
    assert lrs[-1][0] == pytest.approx(1e-4 * max(0.001**0.9, constant_ending))  # last used lr is not yet 0


def test_warmup_multistep():
    opt = optimizer()
    sched = WarmupMultiStepLR(opt, milestones=[80, 95], gamma=0.1, warmup_iters=10, warmup_factor=0.5, end=100)
    lrs = [lr[0] for lr in trace(sched, opt, 100)]
    assert lrs[0] == 0.5e-4 and lrs[5] == pytest.approx(1e-4 * (0.5 * 0.5 + 0.5), rel=1e-15)
    assert lrs[10] == lrs[79] == 1e-4
    assert lrs[80] == lrs[94] == 1e-4 * 0.1
    assert lrs[95] == lrs[99] == 1e-4 * 0.1**2


def test_schedule_configs():
    init_default_scope("segformers")
    for name, max_iters in (("schedule_poly_160k", 160000), ("schedule_poly_90k", 90000),
                            ("schedule_poly_300k", 300000), ("schedule_multistep_368750", 368750)):
        cfg = Config.fromfile(osp.join(CONFIGS, "schedules", f"{name}.py"))
        assert cfg.train_cfg.max_iters == max_iters and cfg.train_cfg.val_interval == 5000
        assert LOOPS.get(cfg.train_cfg.type) is not None
        assert cfg.optim_wrapper.clip_grad == dict(max_norm=0.01, norm_type=2)
        assert cfg.optim_wrapper.optimizer.lr == 1e-4 and cfg.optim_wrapper.optimizer.weight_decay == 0.05
        opt = optimizer()
        sched = PARAM_SCHEDULERS.build(cfg.param_scheduler[0], default_args=dict(optimizer=opt))
        assert sched.by_epoch is False and sched.end == max_iters
        if "poly" in name:
            assert sched.lr_at(1e-4, max_iters // 2) == d2_warmup_poly(1e-4, max_iters // 2, max_iters, 0.9, 0, 1.0)
        else:
            assert [sched.lr_at(1e-4, i) for i in (327777, 327778, 355091, 355092, 368749)] == [
                1e-4, 1e-4 * 0.1, 1e-4 * 0.1, 1e-4 * 0.1**2, 1e-4 * 0.1**2]


def test_default_runtime_config():
    cfg = Config.fromfile(osp.join(CONFIGS, "default_runtime.py"))
    assert cfg.default_scope == "segformers" and cfg.randomness == dict(seed=0)
    assert cfg.log_processor.by_epoch is False and cfg.default_hooks.logger.interval == 50
    init_default_scope("segformers")
    for hook in cfg.default_hooks.values():
        assert HOOKS.get(hook["type"]) is not None, hook["type"]
    assert cfg.default_hooks.checkpoint.type == "SafeCheckpointHook"
    assert cfg.env_cfg.dist_cfg.backend == "nccl"
    from segformers.engine import select_dist_backend

    expected = "nccl" if torch.cuda.is_available() else "gloo"
    assert select_dist_backend(cfg).env_cfg.dist_cfg.backend == expected
