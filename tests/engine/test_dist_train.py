"""``tools/dist_train.sh CONFIG 2``: two gloo processes (torchrun, CPU) train a tiny Mask2Former, with
either model wrapper (DDP, and the quick start's shared-memory gradient averaging); the criterion
normalizes the mask losses by the number of masks averaged over both ranks.

Crash safety: ``kill -9`` of one rank ends the run soon after (no process left), no checkpoint is half
written under its real name, and ``--resume`` continues with the uninterrupted run's losses on both ranks,
after removing the temporary file a killed writer left. DDP: rank 1 (which writes nothing) is killed
after iteration 3. Shared memory: rank 0 (the writer) is killed half-way through writing the checkpoint
of iteration 4. Either way the last checkpoint is iteration 2's, and the resumed run trains 3 and 4 again.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from toy_train_probes import M2F, REPO, make_toy_data, tiny_overrides, write_tiny_config

ITERS = 4
CRASHES = {
    "MMDistributedDataParallel": dict(crash_after=3, kill_rank=1),
    "SharedMemoryDataParallel": dict(crash_after=4, kill_rank=0, mid_write=True),
}
ENDS_WITHIN_S = 60  # torchrun stops the other rank at once (SIGTERM; SIGKILL after 30 s)
RUN_TIMEOUT_S = 300  # a hung run fails the test instead of hanging CI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def worker_pids(work_dir: Path) -> list[int]:
    return [json.loads(p.read_text()) for p in sorted(work_dir.glob("pid_rank*.json"))]


def dist_train(config: str, work_dir: Path, *extra: str) -> tuple[int, float]:
    """``tools/dist_train.sh CONFIG 2`` in its own session; returns (exit code, time it ended)."""
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()), OMP_NUM_THREADS="1",
               CUDA_VISIBLE_DEVICES="",  # gloo on CPU even on a GPU machine (two ranks, maybe one GPU)
               PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    work_dir.mkdir(parents=True, exist_ok=True)
    with open(work_dir / "launcher.log", "a") as log:
        proc = subprocess.Popen(["bash", str(REPO / "tools" / "dist_train.sh"), config, "2", "--work-dir",
                                 str(work_dir), *extra], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=RUN_TIMEOUT_S)
        finally:  # never leave a process behind, whatever happened (torchrun's workers have own sessions)
            for pid in [proc.pid] + worker_pids(work_dir):
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
            proc.wait()
    return code, time.time()


def tiny_dist_config(tmp: Path, name: str, wrapper: str, loss_hook: dict) -> str:
    hooks = [dict(type="NumMasksProbeHook"), loss_hook]
    overrides = tiny_overrides(str(tmp / "toy"), True, ITERS, batch_size=2, hooks=hooks)
    overrides["model_wrapper_cfg"] = dict(type=wrapper)
    return write_tiny_config(str(tmp / f"{name}.py"), M2F, overrides)


@pytest.fixture(scope="module", params=sorted(CRASHES))
def wrapper(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def dist_run(tmp_path_factory, wrapper) -> Path:
    tmp = tmp_path_factory.mktemp("dist")
    make_toy_data(str(tmp / "toy"), num_train=12)
    work_dir = tmp / "work"
    code, _ = dist_train(tiny_dist_config(tmp, "tiny", wrapper, dict(type="LossRecorderHook")), work_dir)
    assert code == 0, (work_dir / "launcher.log").read_text()[-3000:]
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


@pytest.fixture(scope="module")
def crash(dist_run, wrapper) -> dict:
    """The run of ``dist_run``, killed as ``CRASHES`` says, then resumed (``tmp / "crash"``)."""
    tmp = dist_run.parent
    config = tiny_dist_config(tmp, "crashing", wrapper, dict(type="LossRecorderHook", **CRASHES[wrapper]))
    crash_code, ended = dist_train(config, tmp / "crash")
    after_crash = sorted(p.name for p in (tmp / "crash").iterdir())
    checkpoints = {p.name: torch.load(p, weights_only=True) for p in (tmp / "crash").glob("*.pth")}
    pids, last = worker_pids(tmp / "crash"), (tmp / "crash" / "last_checkpoint").read_text()
    resume_code, _ = dist_train(str(tmp / "tiny.py"), tmp / "crash", "--resume")
    return dict(tmp=tmp, codes=(crash_code, resume_code), after_crash=after_crash, pids=pids, last=last,
                checkpoints=checkpoints, killed_for=ended - json.loads((tmp / "crash" / "killed_at.json").read_text()),
                scenario=CRASHES[wrapper])


def test_the_run_ends_soon_after_the_kill_and_leaves_no_process(crash):
    assert crash["codes"][0] != 0
    assert 0 <= crash["killed_for"] < ENDS_WITHIN_S
    assert len(crash["pids"]) == 2 and not any(alive(pid) for pid in crash["pids"])


def test_no_checkpoint_is_half_written_under_its_name(crash):
    assert sorted(crash["checkpoints"]) == ["iter_2.pth"]  # iteration 4's never got its name
    assert set(crash["checkpoints"]["iter_2.pth"]) >= {"meta", "state_dict", "optimizer", "message_hub"}
    assert crash["last"] == str(crash["tmp"] / "crash" / "iter_2.pth")
    temps = [n for n in crash["after_crash"] if n.endswith(".tmp")]  # the writer's own, killed mid-write
    assert len(temps) == (1 if crash["scenario"].get("mid_write") else 0)
    assert all(n.startswith(".iter_4.pth.") for n in temps)


def test_resume_repeats_the_uninterrupted_losses_and_removes_the_leftover(crash):
    tmp = crash["tmp"]
    assert crash["codes"][1] == 0, (tmp / "crash" / "launcher.log").read_text()[-3000:]
    full, resumed = read(tmp / "work", "losses"), read(tmp / "crash", "losses")
    for rank in range(2):
        assert sorted(resumed[rank]) == ["3", "4"]
        assert resumed[rank] == {i: full[rank][i] for i in ("3", "4")}  # bitwise
    assert not list((tmp / "crash").glob(".*.tmp"))
    final_full = torch.load(tmp / "work" / f"iter_{ITERS}.pth", weights_only=True)["state_dict"]
    final_resumed = torch.load(tmp / "crash" / f"iter_{ITERS}.pth", weights_only=True)["state_dict"]
    for name, value in final_full.items():
        assert torch.equal(value, final_resumed[name]), name
