"""``SharedMemoryDataParallel``: two gloo processes on one machine average their gradients in shared memory
and end with the weights of one process that steps on the mean of the two ranks' losses (the gradient DDP
averages); what it does not support is refused. (The reference is not a DDP run in two spawned processes:
tearing down gloo DDP there deadlocks now and then in torch's ``ProcessGroupGloo`` destructor.)"""
from __future__ import annotations

from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from torch import nn

from segformers.engine import SharedMemoryDataParallel

STEPS = 4


class TinyNet(BaseModel):
    """A conv in NHWC memory (its gradient must keep that layout), a linear head and an optional unused layer."""

    def __init__(self, unused: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1).to(memory_format=torch.channels_last)
        self.head = nn.Linear(4, 2)
        self.spare = nn.Linear(2, 2) if unused else None

    def forward(self, inputs, data_samples=None, mode="tensor"):  # noqa: ANN001, ANN201
        out = self.head(self.conv(inputs).mean((2, 3)))
        return {"loss": (out - data_samples).pow(2).mean()} if mode == "loss" else out


def _batch(rank: int, step: int) -> dict:
    g = torch.Generator().manual_seed(100 * step + rank)  # each rank its own data
    return dict(inputs=torch.randn(2, 3, 8, 8, generator=g), data_samples=torch.randn(2, 2, generator=g))


def _init(rank: int, store: str) -> None:
    """A file store, not a TCP port: no port to race for with other tests running beside this one."""
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2,
                            timeout=timedelta(seconds=60))


def _optim(model: nn.Module) -> OptimWrapper:
    return OptimWrapper(torch.optim.AdamW(model.parameters(), lr=0.05))


def _worker(rank: int, store: str, out: str) -> None:
    _init(rank, store)
    torch.manual_seed(rank)  # different initial weights: the wrapper must start every rank from rank 0's
    model = TinyNet()
    wrapped, optim, weights = SharedMemoryDataParallel(model), _optim(model), []
    for step in range(STEPS):
        wrapped.train_step(_batch(rank, step), optim)
        weights.append(model.conv.weight.detach().clone())  # after each step
    torch.save(dict(state=model.state_dict(), weights=weights,
                    nhwc=model.conv.weight.is_contiguous(memory_format=torch.channels_last)), f"{out}_{rank}.pt")
    dist.destroy_process_group()


def _reference() -> list[torch.Tensor]:
    """One process, rank 0's initial weights, each step on the mean of the two ranks' losses."""
    torch.manual_seed(0)
    model = TinyNet()
    optim, weights = _optim(model), []
    for step in range(STEPS):
        losses = [model(**_batch(rank, step), mode="loss")["loss"] for rank in (0, 1)]
        optim.update_params((losses[0] + losses[1]) / 2)
        weights.append(model.conv.weight.detach().clone())
    return weights


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[dict]:
    out = str(tmp_path_factory.mktemp("shm") / "run")
    mp.spawn(_worker, args=(f"{out}_store", out), nprocs=2, join=True)
    return [torch.load(f"{out}_{rank}.pt", weights_only=True) for rank in (0, 1)]


def test_ranks_stay_identical_and_step_on_the_mean_gradient(runs):
    """Both ranks end with the same weights, equal step by step to one process stepping on the mean loss."""
    shm0, shm1 = runs
    for name, value in shm0["state"].items():
        assert torch.equal(value, shm1["state"][name]), name
    for got, want in zip(shm0["weights"], _reference()):  # step by step, not only at the end
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    moved = (shm0["weights"][-1] - shm0["weights"][0]).abs().max()
    assert moved > 1e-2  # the steps did change the weights (lr 0.05, 3 steps apart)
    assert shm0["nhwc"]  # the NHWC weight kept its memory format through the steps


def _refusal_worker(rank: int, store: str, out: str) -> None:
    _init(rank, store)
    messages = []
    try:
        SharedMemoryDataParallel(TinyNet(), find_unused_parameters=True)
    except ValueError as e:
        messages.append(str(e))
    model = TinyNet(unused=True)
    wrapped = SharedMemoryDataParallel(model)
    try:
        wrapped.train_step(_batch(rank, 0), OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)))
    except RuntimeError as e:
        messages.append(str(e))
    torch.save(messages, f"{out}_{rank}.pt")
    dist.destroy_process_group()


def test_unsupported_settings_and_unused_parameters_are_refused(tmp_path):
    mp.spawn(_refusal_worker, args=(str(tmp_path / "store"), str(tmp_path / "msg")), nprocs=2, join=True)
    messages = torch.load(tmp_path / "msg_0.pt", weights_only=True)
    assert len(messages) == 2
    assert "find_unused_parameters=False only" in messages[0] and "MMDistributedDataParallel" in messages[0]
    assert "got no gradient" in messages[1] and "spare.weight" in messages[1]


def test_needs_an_initialised_process_group():
    with pytest.raises(RuntimeError, match="torch.distributed initialised"):
        SharedMemoryDataParallel(TinyNet())


def test_tables_of_dead_processes_are_removed(tmp_path):
    """A rank 0 killed between creating its table file and unlinking it leaves the file in /dev/shm; the
    next run's rank 0 removes the files whose creator (the pid in the name) is gone."""
    import os
    import subprocess

    from segformers.engine.shared_memory_ddp import TABLE_PREFIX, remove_stale_tables

    finished = subprocess.Popen(["true"])
    finished.wait()  # a pid that is gone
    names = [f"{TABLE_PREFIX}{finished.pid}-abc", f"{TABLE_PREFIX}{os.getpid()}-def", "other-1-x"]
    for name in names:
        (tmp_path / name).write_bytes(b"\0" * 8)
    assert remove_stale_tables(str(tmp_path)) == [str(tmp_path / names[0])]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])
