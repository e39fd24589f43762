"""A checkpoint that does not fit the model is refused; ``--resume`` without a checkpoint is an error.

mmengine loads ``load_from`` (``tools/test.py``, fine-tuning) with ``strict=False``: weights the
checkpoint lacks, or holds with another shape, keep their random initialisation and only a warning says
so, and the run evaluates with exit code 0. :class:`CheckpointFitHook` checks the loaded state dict
against the model in ``after_load_checkpoint`` (before mmengine copies it into the model, for
``load_from`` and for ``--resume`` alike) and raises :class:`CheckpointMismatchError` listing the missing,
unexpected and shape-mismatched keys, unless ``allow_partial=True`` (``--allow-partial-checkpoint``).
"""
from __future__ import annotations

import logging
import os.path as osp
import re
from typing import Any, Mapping, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper

from ..registry import HOOKS
from ..weights_io import StateDictFit, state_dict_fit  # noqa: F401  (re-exported)

PARTIAL_FLAG = "--allow-partial-checkpoint"


class CheckpointMismatchError(ValueError):
    """The checkpoint's state dict does not fit the model built from the config."""


def checkpoint_state_dict(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The model weights of a loaded checkpoint, as mmengine reads them (``state_dict`` if present,
    ``module.`` prefixes removed)."""
    state = checkpoint.get("state_dict", checkpoint)
    return {re.sub(r"^module\.", "", key): value for key, value in state.items()}


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Refuse a loaded checkpoint (``load_from`` or ``--resume``) that does not fit the model.

    Args:
        allow_partial: load it anyway (mmengine's ``strict=False``: the weights that fit are copied, the
            others keep their initialisation), with a warning listing the keys. For fine-tuning on other
            classes, say.
    """

    priority = "VERY_HIGH"

    def __init__(self, allow_partial: bool = False) -> None:
        self.allow_partial = bool(allow_partial)

    def after_load_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        model = runner.model
        if is_model_wrapper(model) or isinstance(model, BaseTTAModel):  # as mmengine unwraps to load
            model = model.module
        fit = state_dict_fit(model.state_dict(), checkpoint_state_dict(checkpoint))
        if fit.fits:
            return
        source = runner.cfg.get("load_from") or f"the latest checkpoint of {runner.work_dir}"
        message = f"Checkpoint {source} does not fit the model of this config:\n{fit.report()}\n"
        if self.allow_partial:
            print_log(message + "Loading the weights that fit; the others keep their initialisation "
                      "(allow_partial=True).", logger="current", level=logging.WARNING)
            return
        raise CheckpointMismatchError(
            message + "The weights that do not fit would stay randomly initialised. Check that the checkpoint belongs to "
            f"this config (and its --cfg-options). To load it anyway (fine-tuning), pass {PARTIAL_FLAG} to "
            "tools/train.py or tools/test.py, or list dict(type='CheckpointFitHook', allow_partial=True) "
            "in custom_hooks."
        )


def add_checkpoint_fit_hook(cfg: Any, allow_partial: bool = False) -> Any:
    """Put a :class:`CheckpointFitHook` into ``cfg.custom_hooks`` (one the config lists is kept;
    ``allow_partial=True`` switches it to partial loading)."""
    hooks = [dict(h) for h in (cfg.get("custom_hooks") or [])]
    listed = [h for h in hooks if h.get("type") in ("CheckpointFitHook", CheckpointFitHook)]
    if not listed:
        hooks.append(dict(type="CheckpointFitHook", allow_partial=allow_partial))
    elif allow_partial:
        for hook in listed:
            hook["allow_partial"] = True
    cfg.custom_hooks = hooks
    return cfg


def resume_checkpoint(work_dir: str, checkpoint: Optional[str], allow_fresh_start: bool = False) -> Optional[str]:
    """The checkpoint ``--resume`` continues from: ``checkpoint`` if given, else the one the work dir's
    ``last_checkpoint`` names. Missing checkpoints raise ``FileNotFoundError`` naming the fix; with
    ``allow_fresh_start`` a work dir without ``last_checkpoint`` gives ``None`` (train from scratch)."""
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f"--resume {checkpoint}: no such checkpoint file.")
        return checkpoint
    pointer = osp.join(work_dir, "last_checkpoint")
    if not osp.isfile(pointer):
        if allow_fresh_start:
            print_log(f"--resume: {work_dir} holds no checkpoint yet; starting from scratch (--allow-fresh-start).",
                      logger="current", level=logging.WARNING)
            return None
        raise FileNotFoundError(
            f"--resume: the work dir {work_dir} holds no checkpoint (no {pointer}). Check --work-dir (the default "
            "is work_dirs/<config name>), pass --resume CHECKPOINT, or add --allow-fresh-start to start from "
            "scratch when there is none (jobs that are requeued)."
        )
    with open(pointer) as f:
        latest = f.read().strip()
    if not osp.isfile(latest):
        raise FileNotFoundError(
            f"--resume: {pointer} names {latest}, which does not exist (was the work dir moved or the "
            "checkpoint deleted?). Pass --resume CHECKPOINT with the checkpoint to continue from."
        )
    return latest
