"""``tools/dist_train.sh CONFIG 2``: two gloo processes (torchrun, CPU) train a tiny Mask2Former, with
either model wrapper (DDP, and the quick start's shared-memory gradient averaging); the criterion
normalizes the mask losses by the number of masks averaged over both ranks."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from toy_train_probes import M2F, REPO, make_toy_data, tiny_overrides, write_tiny_config

ITERS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", params=["MMDistributedDataParallel", "SharedMemoryDataParallel"])
def dist_run(tmp_path_factory, request) -> Path:
    tmp = tmp_path_factory.mktemp("dist")
    root = make_toy_data(str(tmp / "toy"), num_train=12)
    hooks = [dict(type="NumMasksProbeHook"), dict(type="LossRecorderHook")]
    overrides = tiny_overrides(root, True, ITERS, batch_size=2, hooks=hooks)
    overrides["model_wrapper_cfg"] = dict(type=request.param)
    config = write_tiny_config(str(tmp / "tiny.py"), M2F, overrides)
    work_dir = tmp / "work"
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()), OMP_NUM_THREADS="1",
               CUDA_VISIBLE_DEVICES="",  # gloo on CPU even on a GPU machine (two ranks, maybe one GPU)
               PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(["bash", str(REPO / "tools" / "dist_train.sh"), config, "2", "--work-dir", str(work_dir)],
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return work_dir


def read(work_dir: Path, name: str) -> list[dict]:
    return [json.loads((work_dir / f"{name}_rank{r}.json").read_text()) for r in range(2)]


def test_two_gloo_ranks_train_in_sync(dist_run):
    probes = read(dist_run, "num_masks")
    assert [p["world_size"] for p in probes] == [2, 2]
    assert probes[0]["checksum"] == probes[1]["checksum"]  # the wrapper kept the replicas identical
    losses = read(dist_run, "losses")
    assert [sorted(map(int, r)) for r in losses] == [list(range(1, ITERS + 1))] * 2
    assert (dist_run / f"iter_{ITERS}.pth").is_file()


def test_num_masks_is_the_average_over_ranks(dist_run):
    calls0, calls1 = (p["calls"] for p in read(dist_run, "num_masks"))
    assert len(calls0) == len(calls1) == ITERS  # one criterion call per iteration and rank
    for (local0, used0), (local1, used1) in zip(calls0, calls1):
        assert used0 == used1 == max((local0 + local1) / 2, 1.0)
    assert any(local0 != local1 for (local0, _), (local1, _) in zip(calls0, calls1))  # ranks saw different counts


@pytest.mark.parametrize("gpus,local_rank,fails", [(1, 1, True), (2, 1, False), (0, 0, True)])
def test_a_process_without_a_gpu_of_its_own_gets_a_clear_error(monkeypatch, gpus, local_rank, fails):
    """With CUDA (NCCL, one GPU per process) a rank beyond the visible GPUs names the fix instead of
    failing in ``torch.cuda.set_device``."""
    import torch
    from mmengine.config import Config

    from segformers.apis.runner import setup_distributed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setenv("LOCAL_RANK", str(local_rank))
    cfg = Config(dict(launcher="pytorch", env_cfg=dict(dist_cfg=dict(backend="nccl"))))
    if fails:
        with pytest.raises(RuntimeError, match=f"{gpus} visible.*CUDA_VISIBLE_DEVICES= tools/dist_train.sh"):
            setup_distributed(cfg)
    else:
        assert setup_distributed(cfg).env_cfg.dist_cfg.backend == "nccl"
