"""The set criterion: match every prediction set to the ground truth, then classify and segment."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
import torch.distributed as dist
from torch import Tensor, nn

from segformers.registry import CRITERIA, LOSSES, MATCHERS
from segformers.structures import DecoderOutput, Targets

from .samplers import MatchedMaskSampler, gather_matched_masks

MatchIndices = list[tuple[Tensor, Tensor]]


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


def _default_matcher() -> dict:
    return dict(type="HungarianMatcher", num_points=12544, costs=[
        dict(type="ClassCost", weight=2.0), dict(type="MaskBCECost", weight=5.0), dict(type="DiceCost", weight=5.0)])


@CRITERIA.register_module()
class SetCriterion(nn.Module):
    """Hungarian-matched class + mask losses with deep supervision (official ``SetCriterion``).

    Defaults are Mask2Former's (class 2.0, BCE 5.0, dice 5.0 on 12544 importance-sampled points).

    Args:
        num_classes: ``K`` (injected by the segmentor).
        matcher: ``MATCHERS`` config or module.
        class_loss: ``LOSSES`` config (built with ``num_classes`` injected) or module.
        mask_losses: ``LOSSES`` configs or modules, fed the same matched ``[M, P]`` rows.
        num_points / oversample_ratio / importance_sample_ratio: see :class:`MatchedMaskSampler`
            (``num_points=None``: full-resolution masks, MaskFormer).
        deep_supervision: also supervise every earlier prediction set (``_0`` = earliest).

    Call: ``criterion(outputs: DecoderOutput, targets: list[Targets]) -> dict`` of WEIGHTED scalar losses
    ``loss_{name}`` (final prediction) and ``loss_{name}_{i}`` (auxiliary set ``i``).
    """

    def __init__(self, *, num_classes: int, matcher: Union[dict, nn.Module, None] = None,
                 class_loss: Union[dict, nn.Module, None] = None,
                 mask_losses: Optional[Sequence[Union[dict, nn.Module]]] = None,
                 num_points: Optional[int] = 12544, oversample_ratio: float = 3.0,
                 importance_sample_ratio: float = 0.75, deep_supervision: bool = True) -> None:
        super().__init__()
        self.num_classes = num_classes
        matcher = _default_matcher() if matcher is None else matcher
        self.matcher = MATCHERS.build(matcher) if isinstance(matcher, dict) else matcher
        class_loss = dict(type="CrossEntropyLoss", loss_weight=2.0) if class_loss is None else class_loss
        self.class_loss = (LOSSES.build(class_loss, default_args=dict(num_classes=num_classes))
                           if isinstance(class_loss, dict) else class_loss)
        if mask_losses is None:
            mask_losses = [dict(type="MaskBCELoss", loss_weight=5.0), dict(type="DiceLoss", loss_weight=5.0)]
        self.mask_losses = nn.ModuleList(LOSSES.build(c) if isinstance(c, dict) else c for c in mask_losses)
        self._check_losses()
        self.sampler = MatchedMaskSampler(num_points=num_points, oversample_ratio=oversample_ratio,
                                          importance_sample_ratio=importance_sample_ratio)
        self.deep_supervision = deep_supervision

    def _check_losses(self) -> None:
        losses = [self.class_loss, *self.mask_losses]
        for loss in losses:
            if not (callable(loss) and hasattr(loss, "name") and hasattr(loss, "loss_weight")):
                raise TypeError(
                    f"Criterion losses must be callables with `name` and `loss_weight` attributes (LOSSES entries "
                    f"such as CrossEntropyLoss, MaskBCELoss, DiceLoss), got {type(loss).__name__}"
                )
        if getattr(self.class_loss, "num_classes", self.num_classes) != self.num_classes:
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

    def loss_terms(self, outputs: DecoderOutput, targets: Sequence[Targets],
                   indices: Optional[Sequence[MatchIndices]] = None,
                   num_masks: Optional[float] = None) -> dict[str, Tensor]:
        """UNWEIGHTED loss terms, same keys as :meth:`forward`.

        Args:
            outputs: ``L`` prediction sets (``class_logits [B, Q, K+1]``, ``mask_logits [B, Q, h, w]``).
            targets: ``B`` :class:`Targets`.
            indices: optional precomputed matches, one list per prediction set aligned with ``outputs``
                (``indices[-1]`` for the final one), each holding ``(pred_idx, tgt_idx)`` per image.
            num_masks: optional normalizer; default :func:`average_num_masks`.

        Random draws (matcher points, then loss points, per set) follow the processing order of
        :meth:`layer_order`, the same as the official and Hugging Face criteria.
        """
        return {key: value for key, _, value in self._terms(outputs, targets, indices, num_masks)}

    def _terms(self, outputs: DecoderOutput, targets: Sequence[Targets],
               indices: Optional[Sequence[MatchIndices]] = None,
               num_masks: Optional[float] = None) -> list[tuple[str, float, Tensor]]:
        """``(key, weight, unweighted value)`` for every term, in processing order."""
        num_layers = len(outputs)
        if len(outputs.mask_logits) != num_layers or num_layers == 0:
            raise ValueError("DecoderOutput needs as many mask_logits as class_logits (at least one)")
        if len(targets) != outputs.class_logits[-1].shape[0]:
            raise ValueError(f"Got {len(targets)} Targets for a batch of {outputs.class_logits[-1].shape[0]} images")
        if indices is not None and len(indices) != num_layers:
            raise ValueError(f"indices must hold one match list per prediction set ({num_layers}), got {len(indices)}")
        if num_masks is None:
            num_masks = average_num_masks(targets, outputs.class_logits[-1].device)
        terms, weights = [], self.loss_weights
        for layer in self.layer_order(num_layers):
            suffix = "" if layer == num_layers - 1 else f"_{layer}"
            class_logits, mask_logits = outputs.class_logits[layer], outputs.mask_logits[layer]
            matches = indices[layer] if indices is not None else self.matcher(class_logits, mask_logits, targets)
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
