"""Safe checkpoints for mmengine 0.10.7 on torch >= 2.6: atomic writes, ``weights_only`` loading, RNG state.

What mmengine saves (``Runner.save_checkpoint``): ``meta`` (strings, ints, ``dataset_meta``), the model
``state_dict``, ``message_hub`` (``HistoryBuffer`` objects holding numpy arrays), ``optimizer`` and
``param_schedulers`` (e.g. ``collections.Counter`` milestones). torch >= 2.6 loads with
``weights_only=True``, which refuses the mmengine / numpy objects. Here:

* :class:`SafeCheckpointHook` (a ``CheckpointHook``) turns the checkpoint into tensors and plain Python
  types in ``before_save_checkpoint`` (:func:`to_plain`; mmengine objects become tagged dicts), adds every
  rank's RNG state (``meta['rng_states']``), writes files atomically (temp file + ``fsync`` +
  ``os.replace`` via the ``atomic_local`` file backend), writes ``last_checkpoint`` only after the
  checkpoint is complete, and deletes outdated checkpoints only after the new one exists. A process
  killed while writing leaves its temporary file (``.iter_N.pth.<random>.tmp``) and never a partial
  file under a checkpoint's name; the next training run in that directory removes such leftovers at
  its start (:func:`remove_stale_temp_files`).
* Importing this module registers :func:`load_local_weights_only` as mmengine's loader for local paths:
  ``torch.load(weights_only=True)`` then :func:`from_plain` (tagged dicts back to mmengine objects).
  An old pickle-style checkpoint fails with a message naming ``convert_checkpoint``.
* The RNG states are put back by ``ResumableIterBasedTrainLoop`` (``segformers.engine.loops``).
"""
from __future__ import annotations

import io
import logging
import os
import os.path as osp
import pickle
import random
import re
import tempfile
from collections import Counter, OrderedDict, deque
from typing import Any, Optional, Union

import numpy as np
import torch
from mmengine.dist import all_gather_object, is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner import CheckpointLoader

from ..registry import HOOKS

TAG = "__segformers_type__"
RNG_INFO_KEY = "segformers_rng_states"  # message-hub key the loop reads after resuming
_SCALARS = (str, int, float, bool, type(None), bytes, complex, torch.dtype, torch.device)


def to_plain(obj: Any, path: str = "checkpoint", strict: bool = True) -> Any:
    """``obj`` as tensors and plain Python types that ``torch.load(weights_only=True)`` reads.

    numpy arrays, ``HistoryBuffer``, ``Counter`` and sets become tagged dicts (undone by
    :func:`from_plain`); numpy scalars become Python scalars. Anything else raises ``TypeError``, or
    with ``strict=False`` (used for the informational ``meta``) is stored as its ``repr`` with a warning.
    """
    if isinstance(obj, np.generic):  # before the scalars: np.float64 is a float subclass
        return obj.item()
    if isinstance(obj, (torch.Tensor, *_SCALARS)):
        return obj
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "biuf":
            value = obj.astype(np.int64) if obj.dtype.kind == "u" and obj.dtype != np.uint8 else obj
            return {TAG: "ndarray", "value": torch.from_numpy(np.ascontiguousarray(value).copy()),
                    "dtype": str(obj.dtype)}
        return obj.tolist()
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {TAG: "HistoryBuffer", "log": to_plain(log), "count": to_plain(count), "max_length": obj.max_length}
    if isinstance(obj, Counter):
        return {TAG: "Counter", "value": {k: to_plain(v, f"{path}[{k!r}]", strict) for k, v in obj.items()}}
    if isinstance(obj, (set, frozenset)):
        return {TAG: "set", "value": [to_plain(v, path, strict) for v in obj]}
    if isinstance(obj, dict):
        items = [(to_plain(k, path, strict), to_plain(v, f"{path}[{k!r}]", strict)) for k, v in obj.items()]
        out = OrderedDict(items) if isinstance(obj, OrderedDict) else dict(items)
        if hasattr(obj, "_metadata"):  # a module state_dict's version info
            out._metadata = obj._metadata  # type: ignore[attr-defined]
        return out
    if isinstance(obj, (list, deque)):
        return [to_plain(v, f"{path}[{i}]", strict) for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return tuple(to_plain(v, f"{path}[{i}]", strict) for i, v in enumerate(obj))
    message = (
        f"{path} is a {type(obj).__module__}.{type(obj).__qualname__}, which torch.load(weights_only=True) "
        f"cannot read. Store tensors or plain Python types there (or extend segformers.engine.checkpoint.to_plain)."
    )
    if strict:
        raise TypeError(message)
    print_log(message + " Saving its repr instead.", logger="current", level=logging.WARNING)
    return repr(obj)


def from_plain(obj: Any) -> Any:
    """Undo the tags of :func:`to_plain` (numpy arrays, ``HistoryBuffer``, ``Counter``, sets)."""
    if isinstance(obj, dict):
        tag = obj.get(TAG)
        if tag == "ndarray":
            return obj["value"].cpu().numpy().astype(obj.get("dtype"), copy=False)  # map_location may be a GPU
        if tag == "HistoryBuffer":
            return HistoryBuffer(from_plain(obj["log"]), from_plain(obj["count"]), obj["max_length"])
        if tag == "Counter":
            return Counter({k: from_plain(v) for k, v in obj["value"].items()})
        if tag == "set":
            return {from_plain(v) for v in obj["value"]}
        for k, v in obj.items():
            obj[k] = from_plain(v)
        return obj
    if isinstance(obj, list):
        return [from_plain(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(from_plain(v) for v in obj)
    return obj


def capture_rng_state() -> dict:
    """This process's Python, numpy, torch CPU and current-CUDA-device RNG states (plain types)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng_state(state: dict) -> None:
    """Inverse of :func:`capture_rng_state` (the states may have been loaded onto a GPU)."""
    random.setstate(state["python"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, torch.as_tensor(keys).cpu().numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())


def _fsync_replace(tmp: str, dest: str) -> None:
    os.replace(tmp, dest)
    try:  # make the rename itself durable
        fd = os.open(osp.dirname(dest) or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


# ``atomic_write``'s temporary names: "." + the final name + "." + mkstemp's 8 random characters + ".tmp"
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def atomic_write(data: Union[bytes, str], path: str) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the complete new one, never a part."""
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{osp.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        _fsync_replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def remove_stale_temp_files(directory: str) -> list[str]:
    """Delete the temporary files that :func:`atomic_write` calls left in ``directory`` when their process
    was killed (``kill -9``, a lost machine) before renaming them; returns the removed paths.

    Call it only where no other process writes into ``directory`` at the same time (the start of a run).
    """
    if not osp.isdir(directory):
        return []
    removed = []
    for name in sorted(os.listdir(directory)):
        path = osp.join(directory, name)
        if _TEMP_NAME.match(name) and osp.isfile(path):
            os.remove(path)
            removed.append(path)
    return removed


@register_backend("atomic_local", force=True)
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose ``put`` / ``put_text`` are atomic."""

    def put(self, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
        atomic_write(obj, str(filepath))

    def put_text(self, obj: str, filepath: Union[str, os.PathLike], encoding: str = "utf-8") -> None:
        atomic_write(obj.encode(encoding), str(filepath))


def load_local_weights_only(filename: str, map_location: Any = None) -> Any:
    """mmengine's local-path loader with ``torch.load(weights_only=True)`` and :func:`from_plain`."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f"{filename} can not be found.")
    try:
        checkpoint = torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise RuntimeError(
            f"{filename} holds Python objects that torch.load(weights_only=True) refuses (e.g. a checkpoint "
            f"saved by plain mmengine). If you trust the file, convert it once with "
            f"segformers.engine.convert_checkpoint('{filename}', '<converted.pth>')"
        ) from exc
    return from_plain(checkpoint)


CheckpointLoader.register_scheme(prefixes="", loader=load_local_weights_only, force=True)


def convert_checkpoint(src: str, dst: str) -> None:
    """Re-save a TRUSTED pickle checkpoint (``weights_only=False``) as a plain, atomically written one."""
    checkpoint = torch.load(src, map_location="cpu", weights_only=False)
    buffer = io.BytesIO()
    torch.save(to_plain(checkpoint), buffer)
    atomic_write(buffer.getvalue(), dst)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` saving plain (``weights_only``-loadable), atomic checkpoints with RNG states.

    Accepts every ``CheckpointHook`` argument. Local output directories use the ``atomic_local`` file
    backend unless ``backend_args`` is given.
    """

    def __init__(self, *args: Any, out_dir: Optional[str] = None, backend_args: Optional[dict] = None,
                 **kwargs: Any) -> None:
        if backend_args is None and kwargs.get("file_client_args") is None and "://" not in str(out_dir or ""):
            backend_args = {"backend": "atomic_local"}
        super().__init__(*args, out_dir=out_dir, backend_args=backend_args, **kwargs)
        self._rng_states: Optional[list] = None

    def before_train(self, runner: Any) -> None:
        """mmengine's set-up, then (main process) the removal of temporary files of killed earlier runs."""
        super().before_train(runner)
        if not is_main_process() or "://" in str(self.out_dir):
            return
        for directory in dict.fromkeys([self.out_dir, runner.work_dir]):
            for path in remove_stale_temp_files(directory):
                print_log(f"Removed {path}, left by an earlier run killed while writing it.", logger="current",
                          level=logging.WARNING)

    def before_save_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        """Add the RNG states and make the whole checkpoint plain, in place."""
        meta = checkpoint.setdefault("meta", {})
        meta["rng_states"] = self._rng_states or [capture_rng_state()]
        plain = {k: to_plain(v, k, strict=k != "meta") for k, v in checkpoint.items()}
        checkpoint.clear()
        checkpoint.update(plain)

    def after_load_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        """Hand the saved RNG states to the train loop (used only when resuming)."""
        states = checkpoint.get("meta", {}).get("rng_states")
        if states is not None:
            runner.message_hub.update_info(RNG_INFO_KEY, states, resumed=False)

    def _save_checkpoint_with_step(self, runner: Any, step: int, meta: dict) -> None:
        # mmengine deletes the oldest checkpoint, saves, then rewrites last_checkpoint in place; here the
        # new checkpoint is complete before last_checkpoint points to it and before the oldest goes
        self._rng_states = all_gather_object(capture_rng_state())
        outdated = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info("keep_ckpt_ids", list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info("last_ckpt", self.last_ckpt)
        try:
            runner.save_checkpoint(self.out_dir, filename, self.file_client_args, save_optimizer=self.save_optimizer,
                                   save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
                                   backend_args=self.backend_args, **self.args)
        finally:
            self._rng_states = None
        if not is_main_process():
            return
        atomic_write(str(self.last_ckpt), osp.join(runner.work_dir, "last_checkpoint"))
        if outdated is not None:
            old = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(outdated))
            if self.file_backend.isfile(old):
                self.file_backend.remove(old)
