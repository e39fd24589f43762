"""The set criterion: match every prediction set to the ground truth, then classify and segment."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
import torch.distributed as dist
from torch import Tensor, nn

from segformers.registry import CRITERIA, LOSSES, MATCHERS
from segformers.structures import ClassificationLoss, DecoderOutput, MatchedMaskLoss, MatchIndices, Matcher, Targets

from .samplers import MatchedMaskSampler, gather_matched_masks


def average_num_masks(targets: Union[Sequence[Targets], int, float],
                      device: Union[torch.device, str, None] = None) -> float:
    """Mask-loss normalizer: ground-truth masks in the local batch, summed over ranks (when
    ``torch.distributed`` is initialized), divided by the world size, clamped at 1.

    Args:
        targets: the local batch's :class:`Targets`, or the local count.
        device: where the all-reduce runs (a CUDA device for NCCL); default CPU.

    Returns:
        A Python float ``>= 1``.
    """
    count = targets if isinstance(targets, (int, float)) else sum(len(t) for t in targets)
    num = torch.as_tensor([float(count)], dtype=torch.float32, device=device)
    world_size = 1
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(num)
        world_size = dist.get_world_size()
    return torch.clamp(num / world_size, min=1).item()


@CRITERIA.register_module()
class SetCriterion(nn.Module):
    """Hungarian-matched class + mask losses with deep supervision (official ``SetCriterion``).

    The papers' settings are in ``configs/_base_/models/*.py`` (each weight and ``num_points`` stated once
    there, for the matcher's costs and for the losses).

    Args:
        num_classes: ``K`` (injected by the segmentor).
        matcher: ``MATCHERS`` config or module.
        class_loss: ``LOSSES`` config (built with ``num_classes`` injected) or module.
        mask_losses: ``LOSSES`` configs or modules, fed the same matched ``[M, P]`` rows.
        num_points / oversample_ratio / importance_sample_ratio: see :class:`MatchedMaskSampler`
            (``num_points=None``: full-resolution masks, MaskFormer).
        deep_supervision: also supervise every earlier prediction set (``_0`` = earliest); the decoders
            always return every layer, this is the one switch.

    Call: ``criterion(outputs: DecoderOutput, targets: list[Targets]) -> dict`` of WEIGHTED scalar losses
    ``loss_{name}`` (final prediction) and ``loss_{name}_{i}`` (auxiliary set ``i``).
    """

    # a small instance for the contract test (segformers.testing)
    tiny_config = dict(
        matcher=dict(type="HungarianMatcher", num_points=16, costs=[dict(type="ClassCost"), dict(type="DiceCost")]),
        class_loss=dict(type="CrossEntropyLoss"), mask_losses=[dict(type="MaskBCELoss"), dict(type="DiceLoss")],
        num_points=16,
    )

    def __init__(self, *, num_classes: int, matcher: Union[dict, nn.Module], class_loss: Union[dict, nn.Module],
                 mask_losses: Sequence[Union[dict, nn.Module]], num_points: Optional[int],
                 oversample_ratio: float = 3.0, importance_sample_ratio: float = 0.75,
                 deep_supervision: bool = True) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.matcher = MATCHERS.build(matcher) if isinstance(matcher, dict) else matcher
        self.class_loss = (LOSSES.build(class_loss, default_args=dict(num_classes=num_classes))
                           if isinstance(class_loss, dict) else class_loss)
        self.mask_losses = nn.ModuleList(LOSSES.build(c) if isinstance(c, dict) else c for c in mask_losses)
        self._check_losses()
        self.sampler = MatchedMaskSampler(num_points=num_points, oversample_ratio=oversample_ratio,
                                          importance_sample_ratio=importance_sample_ratio)
        self.deep_supervision = deep_supervision

    def _check_losses(self) -> None:
        if not isinstance(self.matcher, Matcher):
            raise TypeError(f"SetCriterion.matcher must be a matcher (e.g. HungarianMatcher), got "
                            f"{type(self.matcher).__name__}")
        losses = [self.class_loss, *self.mask_losses]
        for loss, role in zip(losses, [ClassificationLoss] + [MatchedMaskLoss] * len(self.mask_losses)):
            if not isinstance(loss, role):
                raise TypeError(
                    f"SetCriterion losses must honour {role.__name__} (segformers.structures): callables with "
                    f"`name` and `loss_weight`{' and `num_classes`' if role is ClassificationLoss else ''} "
                    f"(LOSSES entries such as CrossEntropyLoss, MaskBCELoss, DiceLoss), got {type(loss).__name__}"
                )
        if self.class_loss.num_classes != self.num_classes:
            raise ValueError(f"class_loss.num_classes={self.class_loss.num_classes} != num_classes={self.num_classes}")
        names = [loss.name for loss in losses]
        if len(set(names)) != len(names):
            raise ValueError(f"Loss names must be unique (they become loss_<name> keys), got {names}")

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, deep_supervision={self.deep_supervision}, sampler={self.sampler}"

    @property
    def loss_weights(self) -> dict[str, float]:
        """``{"loss_<name>": loss_weight}`` of the class loss and every mask loss."""
        losses = [self.class_loss, *self.mask_losses]
        return {f"loss_{loss.name}": float(loss.loss_weight) for loss in losses}

    def forward(self, outputs: DecoderOutput, targets: Sequence[Targets]) -> dict[str, Tensor]:
        """Weighted losses; see the class docstring."""
        return {key: weight * value for key, weight, value in self._terms(outputs, targets)}

    def layer_order(self, num_layers: int) -> list[int]:
        """Prediction sets in processing order: final first, then auxiliary ``0 .. L-2`` (official order)."""
        return [num_layers - 1] + (list(range(num_layers - 1)) if self.deep_supervision else [])

    @staticmethod
    def suffix(layer: int, num_layers: int) -> str:
        """The key suffix of prediction set ``layer``: ``""`` for the final one, else ``"_{layer}"``."""
        return "" if layer == num_layers - 1 else f"_{layer}"

    def _terms(self, outputs: DecoderOutput, targets: Sequence[Targets]) -> list[tuple[str, float, Tensor]]:
        """``(key, weight, unweighted value)`` for every term, in processing order.

        Random draws (matcher points, then loss points, per set) follow :meth:`layer_order`, the same as
        the official and Hugging Face criteria."""
        num_layers = len(outputs)
        if len(outputs.mask_logits) != num_layers or num_layers == 0:
            raise ValueError("DecoderOutput needs as many mask_logits as class_logits (at least one)")
        if len(targets) != outputs.class_logits[-1].shape[0]:
            raise ValueError(f"Got {len(targets)} Targets for a batch of {outputs.class_logits[-1].shape[0]} images")
        num_masks = average_num_masks(targets, outputs.class_logits[-1].device)
        terms, weights = [], self.loss_weights
        for layer in self.layer_order(num_layers):
            suffix = self.suffix(layer, num_layers)
            class_logits, mask_logits = outputs.class_logits[layer], outputs.mask_logits[layer]
            matches = self.matcher(class_logits, mask_logits, targets)
            layer_terms = self.layer_terms(class_logits, mask_logits, targets, matches, num_masks)
            terms += [(f"{key}{suffix}", weights[key], value) for key, value in layer_terms.items()]
        return terms

    def layer_terms(self, class_logits: Tensor, mask_logits: Tensor, targets: Sequence[Targets],
                    matches: MatchIndices, num_masks: float) -> dict[str, Tensor]:
        """Unweighted ``loss_{name}`` of one prediction set given its matches."""
        terms = {}
        # Mask losses first: their random points come right after this set's matcher draws, as officially.
        if sum(len(src) for src, _ in matches) == 0:
            zero = (mask_logits.float() * 0.0).sum()  # exactly 0, still in the graph (DDP-friendly)
            terms.update({f"loss_{loss.name}": zero for loss in self.mask_losses})
        else:
            pred, gt = gather_matched_masks(mask_logits, targets, matches)
            logits, labels = self.sampler(pred, gt)
            terms.update({f"loss_{loss.name}": loss(logits, labels, num_masks) for loss in self.mask_losses})
        target_classes = self.target_classes(class_logits, targets, matches)
        return {f"loss_{self.class_loss.name}": self.class_loss(class_logits, target_classes), **terms}

    def target_classes(self, class_logits: Tensor, targets: Sequence[Targets], matches: MatchIndices) -> Tensor:
        """``[B, Q]`` int64: the matched ground-truth label, ``K`` ("no object") for unmatched queries."""
        batch, queries = class_logits.shape[:2]
        classes = torch.full((batch, queries), self.num_classes, dtype=torch.int64, device=class_logits.device)
        for b, (target, (src, tgt)) in enumerate(zip(targets, matches)):
            if len(src):
                labels = target.labels[tgt.to(target.labels.device)]
                classes[b, src.to(classes.device)] = labels.to(classes.device)
        return classes
