"""Data-parallel training of CPU processes on one machine that average their gradients in shared memory.

DDP on CPU averages gradients with gloo over the loopback network: for the quick-start model (1.6M
parameters) one all-reduce costs about 7 ms, and DDP copies the gradients into its buckets and back.
With one core per process nothing overlaps that with the backward pass. Here every rank's backward
writes its gradients straight into its own slot of one shared-memory table; after a barrier each rank
averages the slots into its ``.grad`` tensors. Two tables alternate from step to step, so a rank never
overwrites a slot another rank may still be reading (the barrier of step ``k + 1`` separates the reads
of step ``k`` from the writes of step ``k + 2``).
"""
from __future__ import annotations

import os
import re
import socket
import tempfile
from typing import Any, Optional

import torch
import torch.distributed as dist
from mmengine.optim import OptimWrapper
from torch import Tensor, nn

from segformers.registry import MODEL_WRAPPERS


def _dense_view(flat: Tensor, like: Tensor) -> Tensor:
    """``flat`` (``like.numel()`` elements) viewed with ``like``'s shape and strides (NHWC weights keep NHWC grads)."""
    return flat.as_strided(like.shape, like.stride())


@MODEL_WRAPPERS.register_module()
class SharedMemoryDataParallel(nn.Module):
    """Wraps ``module`` for training in several CPU processes of one machine (``torchrun``, gloo).

    Drop-in for ``MMDistributedDataParallel`` where all ranks share one host and every trainable
    parameter gets a gradient at every step: ``model_wrapper_cfg = dict(type="SharedMemoryDataParallel")``.
    Parameters and buffers start from rank 0's; buffers (batch-norm statistics) are then each rank's
    own, as with ``broadcast_buffers=False``. Gradients are the mean over ranks, as with DDP.

    Args:
        module: the model (a ``BaseModel``: ``data_preprocessor``, ``_run_forward``, ``parse_losses``).
        device_ids / broadcast_buffers / find_unused_parameters: DDP's arguments, accepted so that
            configs and launchers written for DDP work; only CPU (``device_ids=None``),
            ``broadcast_buffers=False`` and ``find_unused_parameters=False`` are supported.
    """

    def __init__(
        self,
        module: nn.Module,
        device_ids: Optional[list] = None,
        broadcast_buffers: bool = False,
        find_unused_parameters: bool = False,
    ) -> None:
        super().__init__()
        _check_supported(module, device_ids, broadcast_buffers, find_unused_parameters)
        self.module = module
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._names = [n for n, _ in named]
        self._params = [p for _, p in named]
        self._offsets = _offsets(self._params)
        numel = self._offsets[-1]
        self._table = _shared_table(2 * self.world_size * numel).view(2, self.world_size, numel)
        self._mean = torch.empty(numel)
        # the .grad views of this rank's slot in each table and of the mean, made once (not per step)
        self._slot_grads = [self._views(self._table[k, self.rank]) for k in range(2)]
        self._mean_grads = self._views(self._mean)
        self._step = 0
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)

    def _views(self, flat: Tensor) -> list[Tensor]:
        return [_dense_view(flat[a:b], p) for p, a, b in zip(self._params, self._offsets, self._offsets[1:])]

    def _attach_slot(self) -> None:
        """Point every ``.grad`` at this rank's zeroed slot of this step's table."""
        self._table[self._step % 2, self.rank].zero_()
        for p, g in zip(self._params, self._slot_grads[self._step % 2]):
            p.grad = g

    def _average(self) -> None:
        """Wait for every rank's gradients, then make each ``.grad`` the mean over ranks."""
        dist.barrier()
        slots = self._table[self._step % 2]
        if self.world_size == 2:  # one pass (the general path writes the sum, then divides it)
            torch.lerp(slots[0], slots[1], 0.5, out=self._mean)
        else:
            torch.sum(slots, dim=0, out=self._mean).div_(self.world_size)
        for p, g in zip(self._params, self._mean_grads):
            p.grad = g
        self._step += 1

    def train_step(self, data: Any, optim_wrapper: OptimWrapper) -> dict[str, Tensor]:
        """Forward, backward into shared memory, average over ranks, optimizer step; returns the log vars."""
        if self._step == 0 and getattr(optim_wrapper, "_accumulative_counts", 1) != 1:
            raise ValueError(
                "SharedMemoryDataParallel does not accumulate gradients over steps (optim_wrapper "
                "accumulative_counts > 1): use MMDistributedDataParallel (model_wrapper_cfg.type)."
            )
        with optim_wrapper.optim_context(self):
            data = self.module.data_preprocessor(data, training=True)
            losses = self.module._run_forward(data, mode="loss")
        loss, log_vars = self.module.parse_losses(losses)
        self._attach_slot()
        if self._step == 0:  # the first step checks that every parameter gets a gradient
            missing = _backward_checked(optim_wrapper, loss, self._params, self._names)
            if missing:
                raise RuntimeError(
                    f"SharedMemoryDataParallel: {len(missing)} trainable parameters got no gradient "
                    f"({missing[:3]}); use MMDistributedDataParallel with find_unused_parameters=True."
                )
        else:
            optim_wrapper.backward(loss)
        self._average()
        optim_wrapper.step()
        optim_wrapper.zero_grad()
        return log_vars

    def val_step(self, data: Any) -> list:
        return self.module.val_step(data)

    def test_step(self, data: Any) -> list:
        return self.module.test_step(data)


def _check_supported(module: nn.Module, device_ids: Any, broadcast_buffers: bool, find_unused: bool) -> None:
    if not dist.is_initialized():
        raise RuntimeError("SharedMemoryDataParallel needs torch.distributed initialised (torchrun, gloo).")
    if device_ids or any(p.device.type != "cpu" for p in module.parameters()):
        raise ValueError("SharedMemoryDataParallel is for CPU processes; on GPUs use MMDistributedDataParallel.")
    if broadcast_buffers or find_unused:
        raise ValueError(
            "SharedMemoryDataParallel supports broadcast_buffers=False and find_unused_parameters=False only; "
            "use MMDistributedDataParallel (model_wrapper_cfg.type) for either."
        )
    if any(p.dtype != torch.float32 for p in module.parameters() if p.requires_grad):
        raise ValueError("SharedMemoryDataParallel averages float32 parameters only.")
    hosts: list = [None] * dist.get_world_size()
    dist.all_gather_object(hosts, socket.gethostname())
    if len(set(hosts)) != 1:
        raise RuntimeError(
            f"SharedMemoryDataParallel needs all ranks on one machine, got hosts {sorted(set(hosts))}; "
            "use MMDistributedDataParallel for several machines."
        )


def _offsets(params: list[Tensor]) -> list[int]:
    offsets = [0]
    for p in params:
        offsets.append(offsets[-1] + p.numel())
    return offsets


TABLE_PREFIX = "segformers-grads-"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_tables(folder: str) -> list[str]:
    """Delete the table files in ``folder`` whose creating process (the pid in the name) is gone: a rank 0
    killed between creating its table and unlinking it, a moment after start-up. Returns their paths."""
    removed = []
    for name in sorted(os.listdir(folder)):
        match = re.match(rf"^{TABLE_PREFIX}(\d+)-", name)
        if match and not _process_alive(int(match.group(1))):
            path = os.path.join(folder, name)
            os.remove(path)
            removed.append(path)
    return removed


def _shared_table(numel: int) -> Tensor:
    """A float32 tensor of ``numel`` elements mapped by every rank: rank 0 creates the file, all ranks map
    it, then it is unlinked (the mapping lives on; nothing is left behind if a process dies later)."""
    name = [None]
    if dist.get_rank() == 0:
        folder = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
        remove_stale_tables(folder)
        fd, path = tempfile.mkstemp(prefix=f"{TABLE_PREFIX}{os.getpid()}-", dir=folder)
        os.ftruncate(fd, 4 * numel)
        os.close(fd)
        name = [path]
    dist.broadcast_object_list(name, src=0)
    table = torch.from_file(name[0], shared=True, size=numel, dtype=torch.float32)
    dist.barrier()
    if dist.get_rank() == 0:
        os.unlink(name[0])
    return table


def _backward_checked(optim_wrapper: OptimWrapper, loss: Tensor, params: list[Tensor], names: list[str]) -> list[str]:
    """The first step's backward, counting which parameters receive a gradient (names of those that don't)."""
    reached: set[int] = set()
    handles = [p.register_post_accumulate_grad_hook(lambda t: reached.add(id(t))) for p in params]
    try:
        optim_wrapper.backward(loss)
    finally:
        for h in handles:
            h.remove()
    return [n for n, p in zip(names, params) if id(p) not in reached]
