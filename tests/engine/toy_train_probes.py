"""Test helpers for training runs through ``tools/train.py``: a tiny quick-start config and probe hooks.

The hooks are registered in the ``segformers`` scope when this module is imported, which the tiny
configs do through ``custom_imports`` (the test puts this folder on ``PYTHONPATH`` for subprocesses).

* ``LossRecorderHook``: the total loss of every iteration -> ``<work_dir>/losses_rank<r>.json``, and an
  optional simulated crash after a given iteration: a ``KeyboardInterrupt``, or with ``kill_rank`` a
  ``SIGKILL`` of that rank's own process (``kill -9``), optionally in the middle of writing the
  checkpoint of that iteration (``mid_write=True``, the writer: rank 0);
* ``NumMasksProbeHook``: what ``SetCriterion`` used as ``num_masks`` on each call next to the local
  count of ground-truth masks, and a checksum of the trained parameters -> ``num_masks_rank<r>.json``.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import signal
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

from mmengine.dist import get_rank
from mmengine.hooks import Hook

import segformers.models.losses.criterion as criterion_module
from segformers.data.toy import write_toy_dataset
from segformers.registry import HOOKS

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "configs" / "quickstart"
M2F = str(QUICKSTART / "mask2former_r18-tiny_2xb2-570s_toy-panoptic.py")
MF = str(QUICKSTART / "maskformer_r18-tiny_2xb4-1000it_toy-panoptic.py")
SIZE = 64


def _dump(path: str, data: Any) -> None:
    with open(path, "w") as f:
        json.dump(data, f)


@HOOKS.register_module(force=True)
class LossRecorderHook(Hook):
    """Writes ``{iteration: loss}`` after every iteration; raises ``KeyboardInterrupt`` after ``crash_after``."""

    priority = "LOWEST"  # after the checkpoint hook, as a real crash would be

    def __init__(self, crash_after: Optional[int] = None, kill_rank: Optional[int] = None,
                 mid_write: bool = False) -> None:
        self.crash_after, self.kill_rank, self.mid_write = crash_after, kill_rank, mid_write
        self.losses: dict[int, float] = {}

    def before_train(self, runner) -> None:  # noqa: ANN001
        _dump(osp.join(runner.work_dir, f"pid_rank{get_rank()}.json"), os.getpid())  # for the tests' clean-up
        if self.mid_write and get_rank() == self.kill_rank:
            _kill_in_next_checkpoint_write(self, runner.work_dir)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:  # noqa: ANN001
        self.losses[batch_idx + 1] = float(outputs["loss"].detach())
        _dump(osp.join(runner.work_dir, f"losses_rank{get_rank()}.json"), self.losses)
        if self.crash_after is None or batch_idx + 1 != self.crash_after:
            return
        if self.kill_rank is None:
            raise KeyboardInterrupt(f"simulated crash after iteration {batch_idx + 1}")
        if get_rank() == self.kill_rank and not self.mid_write:
            _kill_self(runner.work_dir)


def _kill_self(work_dir: str) -> None:
    """``kill -9`` of this process, after noting the time in ``<work_dir>/killed_at.json``."""
    _dump(osp.join(work_dir, "killed_at.json"), time.time())
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_in_next_checkpoint_write(hook: LossRecorderHook, work_dir: str) -> None:
    """The checkpoint of iteration ``hook.crash_after`` is cut: half its bytes reach the temporary file,
    then this process gets ``SIGKILL`` (earlier checkpoints are written normally)."""
    from segformers.engine import checkpoint as ckpt

    real_put = ckpt.AtomicLocalBackend.put

    def put(backend, obj: bytes, filepath) -> None:  # noqa: ANN001
        if not str(filepath).endswith(f"iter_{hook.crash_after}.pth"):
            return real_put(backend, obj, filepath)
        fd, _ = tempfile.mkstemp(prefix=f".{osp.basename(str(filepath))}.", suffix=".tmp",
                                 dir=osp.dirname(str(filepath)))  # as atomic_write names it
        os.write(fd, obj[: len(obj) // 2])
        _kill_self(work_dir)

    ckpt.AtomicLocalBackend.put = put


@HOOKS.register_module(force=True)
class NumMasksProbeHook(Hook):
    """Records ``(local mask count, num_masks used)`` per criterion call and a parameter checksum."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, float]] = []
        self._original: Optional[Callable] = None

    def before_train(self, runner) -> None:  # noqa: ANN001
        original = self._original = criterion_module.average_num_masks

        def probe(targets, device=None):  # noqa: ANN001, ANN202
            value = original(targets, device)
            local = targets if isinstance(targets, (int, float)) else sum(len(t) for t in targets)
            self.calls.append((float(local), float(value)))
            return value

        criterion_module.average_num_masks = probe

    def after_train(self, runner) -> None:  # noqa: ANN001
        criterion_module.average_num_masks = self._original
        model = runner.model.module if hasattr(runner.model, "module") else runner.model
        checksum = sum(float(p.double().sum()) for p in model.parameters())
        _dump(osp.join(runner.work_dir, f"num_masks_rank{get_rank()}.json"),
              dict(calls=self.calls, checksum=checksum, world_size=runner.world_size))


def make_toy_data(root: str, num_train: int = 8, num_val: int = 2) -> str:
    """A tiny toy dataset (COCO layout, ``SIZE`` x ``SIZE``) under ``root``; returns ``root``."""
    write_toy_dataset(root, num_train=num_train, num_val=num_val, size=(SIZE, SIZE), seed=0,
                      layouts=("coco",), workers=1)
    return root


def _pipeline() -> list[dict]:
    size = (SIZE, SIZE)
    return [
        dict(type="LoadImageFromFile"), dict(type="LoadSegAnnotations"), dict(type="RandomFlip", prob=0.5),
        dict(type="ResizeScale", min_scale=0.8, max_scale=1.25, target_size=size),
        dict(type="FixedSizeCrop", crop_size=size, pad_value=128, seg_pad_value=255),
        dict(type="PackSegInputs"),
    ]


def _tiny_model(mask2former: bool) -> dict:
    if mask2former:
        return dict(
            backbone=dict(stem_out_channels=16, res2_out_channels=16),
            pixel_decoder=dict(conv_dim=32, mask_dim=32, transformer_enc_layers=1, transformer_nheads=2,
                               transformer_dim_feedforward=64),
            transformer_decoder=dict(hidden_dim=32, num_queries=10, nheads=2, dim_feedforward=64, dec_layers=3),
            criterion=dict(matcher=dict(num_points=256), num_points=256),
        )
    return dict(
        backbone=dict(stem_out_channels=16, res2_out_channels=16),
        pixel_decoder=dict(conv_dim=32, mask_dim=32),
        transformer_decoder=dict(hidden_dim=32, num_queries=10, nheads=2, dim_feedforward=64, dec_layers=2),
    )


def tiny_overrides(data_root: str, mask2former: bool, max_iters: int, *, lr: float = 1e-3, batch_size: int = 4,
                   num_workers: int = 0, hooks: Optional[list] = None) -> dict:
    """Config overrides that shrink a quick-start config to a seconds-long CPU run without validation."""
    loader = dict(batch_size=batch_size, num_workers=num_workers, persistent_workers=False,
                  sampler=dict(type="InfiniteSampler", shuffle=True),  # no 2 s pause per epoch (mmengine)
                  dataset=dict(data_root=data_root + "/", pipeline=_pipeline()))
    return dict(
        custom_imports=dict(imports=["toy_train_probes"], allow_failed_imports=False),
        model=_tiny_model(mask2former),
        max_iters=max_iters,
        optim_wrapper=dict(optimizer=dict(lr=lr)),
        param_scheduler=[dict(type="WarmupPolyLR", max_iters=max_iters, power=0.9, warmup_iters=2,
                              warmup_factor=0.1, by_epoch=False)],
        train_cfg=dict(max_iters=max_iters, val_interval=10**6),
        train_dataloader=loader,
        val_dataloader=None, val_cfg=None, val_evaluator=None,
        test_dataloader=None, test_cfg=None, test_evaluator=None,
        default_hooks=dict(logger=dict(interval=1), checkpoint=dict(interval=2, max_keep_ckpts=3)),
        custom_hooks=hooks or [],
        log_processor=dict(window_size=1),
        env_cfg=dict(num_threads=1),
    )


def write_tiny_config(path: str, base: str, overrides: dict) -> str:
    """A config file inheriting ``base`` with ``overrides`` (plain values); returns ``path``."""
    lines = [f"_base_ = [{base!r}]"] + [f"{key} = {value!r}" for key, value in overrides.items()]
    Path(path).write_text("\n".join(lines) + "\n")
    return path
