"""Give the model the dataset's class metadata (classes, which are things) when a loop starts."""
from __future__ import annotations

from typing import Any

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from segformers.registry import HOOKS


@HOOKS.register_module()
class DatasetMetaHook(Hook):
    """Calls ``model.set_dataset_meta(dataset.metainfo)`` before training, validation and testing, with
    the dataset of that loop (the built dataset: COCO-style classes come from its annotation file).

    The one route by which a run's model learns the dataset's metadata: listed in ``default_hooks`` of
    ``configs/_base_/default_runtime.py`` (so ``custom_hooks=[...]`` in a config keeps it; drop it with
    ``default_hooks.dataset_meta=None``). The model checks there that it has one class per dataset class
    (``num_classes``) and takes the thing classes from ``is_thing``, so panoptic / instance
    post-processing needs no ``thing_ids`` in the config. Models without ``set_dataset_meta`` are left alone.
    """

    priority = "NORMAL"

    @staticmethod
    def _apply(runner: Any, loader: Any) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        dataset = getattr(loader, "dataset", None)
        if hasattr(model, "set_dataset_meta") and dataset is not None:
            model.set_dataset_meta(dict(getattr(dataset, "metainfo", {}) or {}))

    def before_train(self, runner: Any) -> None:
        self._apply(runner, runner.train_dataloader)

    def before_val(self, runner: Any) -> None:
        self._apply(runner, runner.val_dataloader)

    def before_test(self, runner: Any) -> None:
        self._apply(runner, runner.test_dataloader)
