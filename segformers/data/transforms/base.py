"""The transform base class: a callable on the results dict, with an optional private seed.

A results dict travels through the pipeline with these keys (all optional except ``img``):

* ``img`` uint8 ``[H, W, 3]`` RGB; ``img_shape`` / ``ori_shape`` ``(H, W)``;
  ``scale_factor`` ``(sx, sy)`` (product of the resizes, width first as in mmdet); ``flip``,
  ``flip_direction``;
* ``gt_sem_seg`` int32 ``[H, W]`` class map, ``ignore_index`` where ignored;
* ``gt_pan_seg`` int32 ``[H, W]`` segment-id map (0 = void) with ``segments_info``;
* ``gt_masks`` bool ``[N, H, W]`` with ``gt_labels`` / ``gt_seg_ids`` int64 ``[N]`` (instances).

Geometric transforms move every one of them together (:mod:`.geometric`). Every transform checks the
form of what it receives (:func:`.checks.check_results`): a wrong one fails naming the key.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .checks import check_results


class BaseTransform:
    """A pipeline step; subclasses implement :meth:`transform` on the results dict."""

    def __call__(self, results: dict) -> Optional[dict]:
        check_results(results, type(self).__name__)
        return self.transform(results)

    def transform(self, results: dict) -> dict:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class RandomTransform(BaseTransform):
    """A transform that draws random numbers.

    Args:
        seed: ``None`` (default) draws from numpy's global generator, which mmengine seeds per
            dataloader worker from the Runner's ``randomness`` config; an integer gives this
            transform its own reproducible stream (tests, debugging — every dataloader worker
            then repeats the same stream).
    """

    def __init__(self, seed: Optional[int] = None) -> None:
        self.seed = seed
        self._rs = np.random.RandomState(seed) if seed is not None else None

    @property
    def rng(self) -> Any:
        """``np.random.RandomState``-like source of random numbers."""
        return self._rs if self._rs is not None else np.random
