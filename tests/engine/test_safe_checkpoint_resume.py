"""Interrupt + resume through mmengine's Runner repeats the uninterrupted run iteration for iteration."""
import itertools
import os
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

import segformers.engine  # noqa: F401  (registers hooks, loops, schedulers, the weights_only loader)
from segformers.engine import group_of_each_parameter
from segformers.engine.checkpoint import AtomicLocalBackend, SafeCheckpointHook, atomic_write

MAX_ITERS, CRASH_AT, INTERVAL = 8, 5, 2
RUN_IDS = itertools.count()


class NoisyData(Dataset):
    """Random augmentation in the main process: numpy, python and torch generators."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        x = torch.full((4,), float(i)) + torch.rand(4) + float(np.random.rand()) + random.random()
        return {"inputs": x, "target": torch.tensor(float(i % 2))}


class TinyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8))
        self.query_feat = nn.Embedding(2, 8)
        self.head = nn.Linear(8, 1)
        self.drop = nn.Dropout(0.3)

    def forward(self, inputs, target=None, mode="tensor"):
        x = torch.stack(inputs)
        h = self.drop(self.backbone(x)) + self.query_feat.weight.mean(0)
        # random point-sampling stand-in
        out = self.head(h).squeeze(1) + 0.01 * torch.randn(len(inputs), device=x.device)
        if mode == "loss":
            return {"loss": ((out - torch.stack(target)) ** 2).mean()}
        return [{"pred": v} for v in out]


class MeanMetric(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results += [float(s["pred"]) for s in data_samples]

    def compute_metrics(self, results):
        return {"mean": float(np.mean(results))}


class Recorder(Hook):
    """Losses per iteration and a crash after a given iteration (runs after the checkpoint hook)."""

    priority = "LOWEST"

    def __init__(self, crash_at=None):
        self.losses, self.crash_at = {}, crash_at

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.losses[batch_idx] = outputs["loss"].item()
        if self.crash_at is not None and batch_idx + 1 == self.crash_at:
            raise KeyboardInterrupt("simulated crash")


def make_runner(work_dir, recorder, resume=False):
    loader = dict(dataset=NoisyData(), sampler=dict(type="InfiniteSampler", shuffle=True), batch_size=2,
                  num_workers=0, collate_fn=dict(type="pseudo_collate"))
    val_loader = dict(loader, sampler=dict(type="DefaultSampler", shuffle=False))
    torch.manual_seed(0)  # the model is built before the Runner seeds everything
    runner = Runner(
        model=TinyModel(), work_dir=work_dir, train_dataloader=loader, val_dataloader=val_loader,
        train_cfg=dict(type="ResumableIterBasedTrainLoop", max_iters=MAX_ITERS, val_interval=3),
        val_cfg=dict(type="ValLoop"), val_evaluator=Evaluator(MeanMetric()),
        optim_wrapper=dict(constructor="MaskFormerOptimWrapperConstructor",
                           optimizer=dict(type="AdamW", lr=1e-2, weight_decay=0.05),
                           clip_grad=dict(max_norm=0.01, norm_type=2)),
        param_scheduler=[dict(type="WarmupPolyLR", max_iters=MAX_ITERS, warmup_iters=3, warmup_factor=0.1),
                         dict(type="MultiStepLR", milestones=[4], gamma=0.5, by_epoch=False)],
        default_hooks=dict(checkpoint=dict(type="SafeCheckpointHook", by_epoch=False, interval=INTERVAL,
                                           max_keep_ckpts=2), logger=dict(type="LoggerHook", interval=100)),
        custom_hooks=[recorder], default_scope="segformers", randomness=dict(seed=7), resume=resume,
        experiment_name=f"resume_test_{next(RUN_IDS)}",  # own MessageHub even within the same second
    )
    return runner


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    full = Recorder()
    full_runner = make_runner(str(tmp_path_factory.mktemp("full")), full)
    full_runner.train()
    work_dir = str(tmp_path_factory.mktemp("crash"))
    first = Recorder(crash_at=CRASH_AT)
    with pytest.raises(KeyboardInterrupt):
        make_runner(work_dir, first).train()
    second = Recorder()
    resumed_runner = make_runner(work_dir, second, resume=True)
    resumed_runner.train()
    return full, full_runner, first, second, resumed_runner, work_dir


def test_resumed_losses_and_weights_equal_uninterrupted_run(runs):
    full, full_runner, first, second, resumed_runner, _ = runs
    assert sorted(full.losses) == list(range(MAX_ITERS))
    assert [first.losses[i] for i in range(CRASH_AT)] == [full.losses[i] for i in range(CRASH_AT)]
    # the last checkpoint is at iteration 4, so iteration 5 (index 4) is trained again
    assert sorted(second.losses) == list(range(4, MAX_ITERS))
    assert [second.losses[i] for i in range(4, MAX_ITERS)] == [full.losses[i] for i in range(4, MAX_ITERS)]
    for (name, a), (_, b) in zip(full_runner.model.state_dict().items(), resumed_runner.model.state_dict().items()):
        assert torch.equal(a, b), name
    hook = next(h for h in resumed_runner.hooks if isinstance(h, SafeCheckpointHook))
    assert isinstance(hook.file_backend, AtomicLocalBackend)
    lr_full = [g["lr"] for g in full_runner.optim_wrapper.param_groups]
    assert lr_full == [g["lr"] for g in resumed_runner.optim_wrapper.param_groups]


def test_checkpoints_are_plain_and_pruned(runs):
    *_, work_dir = runs
    names = sorted(f for f in os.listdir(work_dir) if f.endswith(".pth"))
    assert names == ["iter_6.pth", "iter_8.pth"]  # max_keep_ckpts=2, no temp files left
    assert not [f for f in os.listdir(work_dir) if f.endswith(".tmp")]
    with open(osp.join(work_dir, "last_checkpoint")) as f:
        assert f.read() == osp.join(work_dir, "iter_8.pth")
    ckpt = torch.load(osp.join(work_dir, "iter_8.pth"), weights_only=True)
    assert ckpt["meta"]["iter"] == 8 and len(ckpt["meta"]["rng_states"]) == 1
    assert set(ckpt) >= {"meta", "state_dict", "message_hub", "optimizer", "param_schedulers"}
    assert ckpt["message_hub"]["log_scalars"]["train/loss"]["__segformers_type__"] == "HistoryBuffer"


def test_plain_mmengine_checkpoint_is_refused_with_a_hint(tmp_path):
    from mmengine.logging import HistoryBuffer
    from mmengine.runner import CheckpointLoader

    path = str(tmp_path / "legacy.pth")
    torch.save({"state_dict": {}, "message_hub": {"x": HistoryBuffer()}}, path)
    with pytest.raises(RuntimeError, match="convert it once"):
        CheckpointLoader.load_checkpoint(path)
    segformers.engine.convert_checkpoint(path, str(tmp_path / "ok.pth"))
    restored = CheckpointLoader.load_checkpoint(str(tmp_path / "ok.pth"))
    assert isinstance(restored["message_hub"]["x"], HistoryBuffer)


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = str(tmp_path / "ckpt.pth")
    atomic_write(b"good", path)

    import segformers.engine.checkpoint as ck

    real_fsync = ck.os.fsync
    ck.os.fsync = lambda fd: (_ for _ in ()).throw(OSError("disk full"))
    try:
        with pytest.raises(OSError, match="disk full"):
            atomic_write(b"partial", path)
    finally:
        ck.os.fsync = real_fsync
    with open(path, "rb") as f:
        assert f.read() == b"good"
    assert os.listdir(tmp_path) == ["ckpt.pth"]


def test_to_plain_round_trip(tmp_path):
    from collections import Counter

    from mmengine.logging import HistoryBuffer

    from segformers.engine import from_plain, to_plain

    buf = HistoryBuffer([1.0, 2.0], [1, 1])
    obj = {"a": np.arange(3, dtype=np.uint32), "b": np.float64(0.5), "c": Counter({3: 1}), "d": {1, 2},
           "e": (1, "x", None), "h": buf}
    path = str(tmp_path / "x.pth")
    torch.save(to_plain(obj), path)
    back = from_plain(torch.load(path, weights_only=True))
    assert back["a"].dtype == np.uint32 and back["a"].tolist() == [0, 1, 2]
    assert back["b"] == 0.5 and type(back["b"]) is float
    assert back["c"] == Counter({3: 1}) and back["d"] == {1, 2} and back["e"] == (1, "x", None)
    assert back["h"].mean() == 1.5 and back["h"].max_length == buf.max_length
    with pytest.raises(TypeError, match="weights_only"):
        to_plain({"p": tmp_path})
    assert to_plain({"p": tmp_path}, strict=False)["p"] == repr(tmp_path)


def test_runtime_and_schedule_configs_drive_a_runner(tmp_path):
    from mmengine.config import Config

    base = osp.join(osp.dirname(__file__), "..", "..", "configs", "_base_")
    cfg = Config.fromfile(osp.join(base, "default_runtime.py"))
    cfg.merge_from_dict(Config.fromfile(osp.join(base, "schedules", "schedule_poly_90k.py")).to_dict())
    loader = dict(dataset=NoisyData(), sampler=dict(type="InfiniteSampler"), batch_size=2, num_workers=0,
                  collate_fn=dict(type="pseudo_collate"))
    cfg.default_hooks.checkpoint.interval = 2
    runner = Runner(
        model=TinyModel(), work_dir=str(tmp_path), train_dataloader=loader,
        train_cfg=dict(cfg.train_cfg, max_iters=3, val_interval=100),
        optim_wrapper=cfg.optim_wrapper, param_scheduler=[dict(cfg.param_scheduler[0], max_iters=3)],
        default_hooks=cfg.default_hooks, env_cfg=cfg.env_cfg, log_processor=cfg.log_processor,
        visualizer=dict(cfg.visualizer, name=f"vis_{next(RUN_IDS)}"), default_scope=cfg.default_scope,
        randomness=cfg.randomness, experiment_name=f"cfg_test_{next(RUN_IDS)}",
    )
    runner.train()
    groups = group_of_each_parameter(runner.optim_wrapper.param_groups)
    assert groups["backbone.0.weight"]["initial_lr"] == pytest.approx(1e-5)
    assert groups["query_feat.weight"]["weight_decay"] == 0.0
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith(".pth")) == ["iter_2.pth", "iter_3.pth"]
    torch.load(osp.join(str(tmp_path), "iter_3.pth"), weights_only=True)
