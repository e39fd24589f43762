"""``SharedMemoryDataParallel``: two gloo processes on one machine average their gradients in shared memory
and end with the same weights as under DDP (to float rounding); what it does not support is refused."""
from __future__ import annotations

from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.model import BaseModel, MMDistributedDataParallel
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


def _worker(rank: int, store: str, kind: str, out: str) -> None:
    _init(rank, store)
    torch.manual_seed(rank)  # different initial weights: the wrapper must start every rank from rank 0's
    model = TinyNet()
    wrapped = (SharedMemoryDataParallel(model) if kind == "shm"
               else MMDistributedDataParallel(module=model, device_ids=None, broadcast_buffers=False))
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=0.05))
    weights = []
    for step in range(STEPS):
        wrapped.train_step(_batch(rank, step), optim)
        weights.append(model.conv.weight.detach().clone())  # after each step
    torch.save(dict(state=model.state_dict(), weights=weights,
                    conv_grad_layout=model.conv.weight.is_contiguous(memory_format=torch.channels_last)),
               f"{out}_{kind}_{rank}.pt")
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    out = str(tmp_path_factory.mktemp("shm") / "run")
    for kind in ("shm", "ddp"):
        mp.spawn(_worker, args=(f"{out}_{kind}_store", kind, out), nprocs=2, join=True)
    return {(k, r): torch.load(f"{out}_{k}_{r}.pt", weights_only=True) for k in ("shm", "ddp") for r in (0, 1)}


def test_ranks_stay_identical_and_match_ddp(runs):
    """Both ranks end with the same weights, and those equal DDP's after the same steps on the same data."""
    shm0, shm1, ddp0 = runs["shm", 0], runs["shm", 1], runs["ddp", 0]
    for name, value in shm0["state"].items():
        assert torch.equal(value, shm1["state"][name]), name
        torch.testing.assert_close(value, ddp0["state"][name], rtol=1e-5, atol=1e-6)
    for a, b in zip(shm0["weights"], ddp0["weights"]):  # step by step, not only at the end
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    moved = (shm0["weights"][-1] - shm0["weights"][0]).abs().max()
    assert moved > 1e-2  # the steps did change the weights (lr 0.05, 3 steps apart)
    assert shm0["conv_grad_layout"]  # the NHWC weight kept its memory format through the steps


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
