"""Give the model the dataset's class metadata (which classes are things) before it predicts."""
from __future__ import annotations

from typing import Any

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from segformers.registry import HOOKS


@HOOKS.register_module()
class DatasetMetaHook(Hook):
    """Calls ``model.set_dataset_meta(dataset.metainfo)`` before validation and testing, so that
    panoptic / instance post-processing knows the thing classes without repeating them in the config."""

    priority = "NORMAL"

    @staticmethod
    def _apply(runner: Any, loader: Any) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        dataset = getattr(loader, "dataset", None)
        if hasattr(model, "set_dataset_meta") and dataset is not None:
            model.set_dataset_meta(getattr(dataset, "metainfo", {}) or {})

    def before_val(self, runner: Any) -> None:
        self._apply(runner, runner.val_dataloader)

    def before_test(self, runner: Any) -> None:
        self._apply(runner, runner.test_dataloader)
