"""Transforms that compose other transforms.

:class:`RandomChoice` applies one of several sub-pipelines, which is how detectron2's DETR-style
``detr_panoptic`` mapper (MaskFormer COCO panoptic) augments: with p = 0.5 a plain multi-scale resize,
otherwise resize + ``absolute_range`` crop + resize. :class:`TestTimeAug` applies every combination of
several alternatives and returns all the views (test-time augmentation, ``segformers.models.tta``).
"""
from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional, Union

import numpy as np

from segformers.registry import TRANSFORMS

from .base import BaseTransform, RandomTransform

TransformCfg = Union[dict, Callable[[dict], dict]]


def _build(step: TransformCfg, owner: str = "RandomChoice") -> Callable[[dict], dict]:
    if isinstance(step, Mapping):
        return TRANSFORMS.build(dict(step))
    if callable(step):
        return step
    raise TypeError(f"{owner}: a transform must be a config dict or a callable, got {type(step).__name__}")


@TRANSFORMS.register_module()
class RandomChoice(RandomTransform):
    """Apply exactly one of several transform pipelines, chosen at random per call.

    Args:
        transforms: the candidate pipelines; each is a list of transform configs (or callables)
            applied in order. An empty list is the identity.
        prob: the probability of each pipeline (same length as ``transforms``, non-negative,
            summing to 1); ``None`` picks uniformly.
        seed: ``None`` draws the choice from numpy's global generator, like every other random
            transform (the Runner seeds it per dataloader worker); an integer gives this transform a
            private stream, which the nested random transforms without a seed of their own then
            share, so one seed fixes the whole composite.

    Each call draws one number, ``rng.choice(len(transforms), p=prob)``, before running the
    chosen pipeline.
    """

    def __init__(
        self,
        transforms: Sequence[Sequence[TransformCfg]],
        prob: Optional[Sequence[float]] = None,
        seed: Optional[int] = None,
    ) -> None:
        super().__init__(seed)
        if isinstance(transforms, (str, Mapping)) or not isinstance(transforms, Sequence) or not transforms:
            raise ValueError("RandomChoice needs a non-empty list of pipelines (each a list of transform configs), "
                             f"got {transforms!r}")
        for i, branch in enumerate(transforms):
            if isinstance(branch, (str, Mapping)) or not isinstance(branch, Sequence):
                raise ValueError(f"RandomChoice: pipeline {i} must be a list of transform configs, got {branch!r}")
        n = len(transforms)
        if prob is None:
            p = np.full(n, 1.0 / n)
        else:
            p = np.asarray(prob, dtype=np.float64)
            if p.shape != (n,):
                raise ValueError(f"RandomChoice: prob has {p.size} values for {n} pipelines: {list(prob)}")
            if (p < 0).any() or not np.isclose(p.sum(), 1.0, rtol=0.0, atol=1e-6):
                raise ValueError(f"RandomChoice: prob must be non-negative and sum to 1, got {list(prob)}")
            p = p / p.sum()
        self.prob = tuple(float(v) for v in p)
        self.transforms = [[_build(step) for step in branch] for branch in transforms]
        if self._rs is not None:
            self._share_stream(self._rs)

    def _share_stream(self, rs: np.random.RandomState) -> None:
        """Let nested random transforms that have no seed of their own draw from ``rs``."""
        for branch in self.transforms:
            for step in branch:
                if isinstance(step, RandomTransform) and step._rs is None:
                    step._rs = rs
                    if isinstance(step, RandomChoice):
                        step._share_stream(rs)

    def choose(self) -> int:
        """Index of the pipeline to apply (one draw)."""
        return int(self.rng.choice(len(self.transforms), p=self.prob))

    def transform(self, results: dict) -> Any:
        for step in self.transforms[self.choose()]:
            results = step(results)
            if results is None:  # a step that drops the sample ends the pipeline, as in Compose
                return None
        return results


@TRANSFORMS.register_module()
class TestTimeAug(BaseTransform):
    """Every combination of one step per stage, each applied to its own copy of the results.

    Args:
        transforms: the stages, each a list of alternative transform configs (or callables); the views
            are ``itertools.product`` of the stages, in that order. The last stage must pack
            (``PackSegInputs``), e.g. ``[[resize at each scale], [no flip, flip], [load annotations],
            [pack]]`` gives per scale the plain view, then the flipped one (detectron2's
            ``DatasetMapperTTA`` order).

    Returns ``{"inputs": [one per view], "data_samples": [one per view]}``, which ``pseudo_collate``
    turns into one batch per view, as mmengine's ``BaseTTAModel.test_step`` expects.
    """

    def __init__(self, transforms: Sequence[Sequence[TransformCfg]]) -> None:
        if isinstance(transforms, (str, Mapping)) or not isinstance(transforms, Sequence) or not transforms:
            raise ValueError(f"TestTimeAug needs a non-empty list of stages (lists of transform configs), "
                             f"got {transforms!r}")
        for i, stage in enumerate(transforms):
            if isinstance(stage, (str, Mapping)) or not isinstance(stage, Sequence) or not stage:
                raise ValueError(f"TestTimeAug: stage {i} must be a non-empty list of transform configs, got {stage!r}")
        self.transforms = [[_build(step, "TestTimeAug") for step in stage] for stage in transforms]

    def transform(self, results: dict) -> dict:
        views = []
        for steps in itertools.product(*self.transforms):
            view = copy.deepcopy(results)
            for step in steps:
                view = step(view)
            if not isinstance(view, Mapping) or not {"inputs", "data_samples"} <= set(view):
                raise ValueError("TestTimeAug: the last stage must pack the results (dict(type='PackSegInputs')), "
                                 f"got {type(view).__name__}")
            views.append(view)
        return {"inputs": [v["inputs"] for v in views], "data_samples": [v["data_samples"] for v in views]}
