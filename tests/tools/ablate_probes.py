"""Test helpers for tests/tools/test_ablate.py: a tiny toy base config for ablation grids and a hook that kills
its own training process once (a simulated interruption of a cell).

``KillOnceHook``: when the environment variable ``ABLATE_KILL_AFTER`` is ``N`` and the file
``<work_dir>/killed`` does not exist yet, the process writes that file and ``SIGKILL``s itself after iteration N
(after the checkpoint of that iteration: the hook runs last). The configs import this module through
``custom_imports``; the tests put this folder on ``PYTHONPATH`` for the cells' subprocesses.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

from mmengine.hooks import Hook

from segformers.data.toy import write_toy_dataset
from segformers.registry import HOOKS

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "configs" / "quickstart" / "mask2former_r18-tiny_2xb2-570s_toy-panoptic.py"
SIZE = 64


@HOOKS.register_module(force=True)
class KillOnceHook(Hook):
    """``kill -9`` of this process after iteration ``$ABLATE_KILL_AFTER``, once per work dir."""

    priority = "LOWEST"

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:  # noqa: ANN001
        after = os.environ.get("ABLATE_KILL_AFTER")
        marker = Path(runner.work_dir) / "killed"
        if after and batch_idx + 1 == int(after) and not marker.exists():
            marker.write_text(str(batch_idx + 1))
            os.kill(os.getpid(), signal.SIGKILL)


def make_toy(root: Path, num_train: int = 8, num_val: int = 4) -> Path:
    """A tiny COCO-layout toy dataset (``SIZE`` px) under ``root``."""
    write_toy_dataset(str(root), num_train=num_train, num_val=num_val, size=(SIZE, SIZE), seed=0,
                      layouts=("coco",), workers=1)
    return root


def _pipelines() -> tuple[list, list]:
    size = (SIZE, SIZE)
    train = [dict(type="LoadImageFromFile"), dict(type="LoadSegAnnotations"), dict(type="RandomFlip", prob=0.5),
             dict(type="ResizeScale", min_scale=0.8, max_scale=1.25, target_size=size),
             dict(type="FixedSizeCrop", crop_size=size, pad_value=128, seg_pad_value=255),
             dict(type="PackSegInputs")]
    test = [dict(type="LoadImageFromFile"), dict(type="ResizeShortestEdge", short_edge_length=SIZE, max_size=4 * SIZE),
            dict(type="LoadSegAnnotations"), dict(type="PackSegInputs")]
    return train, test


def tiny_base(path: Path, data_root: Path) -> Path:
    """A config file: the quick start shrunk to a seconds-long CPU cell on ``data_root`` (checkpoint every 2)."""
    train, test = _pipelines()
    root = str(data_root) + "/"
    overrides = dict(
        custom_imports=dict(imports=["ablate_probes"], allow_failed_imports=False),
        model=dict(
            backbone=dict(stem_out_channels=16, res2_out_channels=16, autocast_dtype=None),
            pixel_decoder=dict(conv_dim=32, mask_dim=32, transformer_enc_layers=1, transformer_nheads=2,
                               transformer_dim_feedforward=64),
            transformer_decoder=dict(hidden_dim=32, num_queries=10, nheads=2, dim_feedforward=64, dec_layers=3),
            criterion=dict(matcher=dict(num_points=64), num_points=64),
            postprocessor=dict(topk_per_image=20),  # 5 queries x 8 classes in the smallest variant
        ),
        param_scheduler=[dict(type="LinearLR", start_factor=1.0, end_factor=0.1, begin=3000, end=3500,
                              by_epoch=False)],
        train_dataloader=dict(batch_size=2, dataset=dict(data_root=root, pipeline=train)),
        test_dataloader=dict(batch_size=2, dataset=dict(data_root=root, pipeline=test)),
        test_evaluator=[dict(type="PanopticMetric"), dict(type="SemSegMetric"),
                        dict(type="CocoInstanceMetric", ann_file=root + "coco/annotations/instances_val2017.json")],
        model_wrapper_cfg=None,
        custom_hooks=[dict(type="KillOnceHook")],
        default_hooks=dict(logger=dict(interval=1), checkpoint=dict(interval=2, max_keep_ckpts=3)),
        log_processor=dict(window_size=1),
    )
    lines = [f"_base_ = [{str(QUICKSTART)!r}]"] + [f"{k} = {v!r}" for k, v in overrides.items()]
    path.write_text("\n".join(lines) + "\n")
    return path
