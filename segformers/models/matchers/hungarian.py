"""Bipartite matching of predicted masks to ground-truth segments (official ``matcher.py``)."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from segformers.models.layers.point_sample import point_sample
from segformers.registry import MATCH_COSTS, MATCHERS
from segformers.structures import MatchCost, MatchIndices, MatchInputs, Targets


def _empty_match() -> tuple[Tensor, Tensor]:
    return torch.empty(0, dtype=torch.int64), torch.empty(0, dtype=torch.int64)


@MATCHERS.register_module()
class HungarianMatcher(nn.Module):
    """One-to-one assignment of queries to ground-truth segments minimizing the summed weighted costs.

    Args:
        costs: match-cost configs (``MATCH_COSTS``) or built :class:`MatchCost` modules, e.g.
            ``[dict(type="ClassCost", weight=2.0), dict(type="MaskBCECost", weight=5.0),
            dict(type="DiceCost", weight=5.0)]``.
        num_points: Mask2Former: compare masks on this many uniform random points per image, ONE set
            shared by all predictions and all ground-truth masks of the image (``torch.rand(1, P, 2)``
            drawn per image, in batch order, even for images without ground truth, as the official code
            does, when the first cost reads the rows). ``None`` (MaskFormer): compare full masks, ground
            truth downsampled with ``nearest`` to the prediction size.

    Every cost receives one :class:`~segformers.structures.MatchInputs` per image: the class logits,
    labels, the 2-D mask logits and target masks, and the mask rows above (computed on first use).

    Call: ``matcher(class_logits [B, Q, K+1], mask_logits [B, Q, h, w], targets: list[Targets])`` ->
    one ``(pred_idx int64 [n], tgt_idx int64 [n])`` pair per image, on the CPU, ``n = min(Q, N_b)``,
    sorted by ``pred_idx``. Runs under ``no_grad``; costs in float32 with autocast disabled.
    """

    # a small instance for the contract test (segformers.testing)
    tiny_config = dict(
        costs=[dict(type="ClassCost"), dict(type="MaskBCECost"), dict(type="DiceCost")], num_points=16)

    def __init__(self, *, costs: Sequence[Union[dict, MatchCost]], num_points: Optional[int] = 12544) -> None:
        super().__init__()
        if not costs:
            raise ValueError("HungarianMatcher needs at least one cost, e.g. costs=[dict(type='ClassCost')]")
        if num_points is not None and num_points <= 0:
            raise ValueError(f"num_points must be a positive int or None (full masks), got {num_points}")
        built = [MATCH_COSTS.build(c) if isinstance(c, dict) else c for c in costs]
        for cost in built:
            if not isinstance(cost, MatchCost):
                raise TypeError(f"HungarianMatcher costs must be MatchCost modules, got {type(cost).__name__}")
        self.costs = nn.ModuleList(built)
        self.num_points = num_points

    def extra_repr(self) -> str:
        return f"num_points={self.num_points}"

    @torch.no_grad()
    def forward(self, class_logits: Tensor, mask_logits: Tensor, targets: Sequence[Targets]) -> MatchIndices:
        """Match each image independently; see the class docstring for shapes."""
        _check_inputs(class_logits, mask_logits, targets)
        indices = []
        with torch.autocast(device_type=class_logits.device.type, enabled=False):
            for b, target in enumerate(targets):
                cost = self.cost_matrix(class_logits[b], mask_logits[b], target)
                if cost.shape[1] == 0:
                    indices.append(_empty_match())
                    continue
                if not torch.isfinite(cost).all():
                    raise ValueError(
                        f"Matching cost of image {b} has NaN/inf entries: the predicted logits are not finite "
                        "(training diverged?). Lower the learning rate, keep gradient clipping on, or check "
                        "the inputs."
                    )
                rows, cols = linear_sum_assignment(cost.cpu().numpy())
                indices.append((torch.as_tensor(rows, dtype=torch.int64), torch.as_tensor(cols, dtype=torch.int64)))
        return indices

    def cost_matrix(self, class_logits: Tensor, mask_logits: Tensor, target: Targets) -> Tensor:
        """Weighted total cost ``[Q, N]`` (float32) of one image.

        Args: ``class_logits [Q, K+1]``, ``mask_logits [Q, h, w]``, ``target`` with ``N`` segments.
        """
        inputs = self.match_inputs(class_logits, mask_logits, target)
        total = inputs.class_logits.new_zeros((inputs.num_queries, inputs.num_targets))
        for cost in self.costs:
            total = total + cost(inputs)
        return total

    def match_inputs(self, class_logits: Tensor, mask_logits: Tensor, target: Targets) -> MatchInputs:
        """What the costs see of one image (float32 logits; the mask rows are computed on first use)."""
        pred = mask_logits.float()
        return MatchInputs(
            class_logits=class_logits.float(), labels=target.labels.to(class_logits.device), mask_logits=pred,
            target_masks=target.masks, rows=lambda: self._mask_rows(pred, target),
        )

    def _mask_rows(self, pred: Tensor, target: Targets) -> tuple[Tensor, Tensor]:
        """Prediction rows ``[Q, P]`` and ground-truth rows ``[N, P]`` (float32) on shared points/pixels."""
        gt = target.masks.to(device=pred.device, dtype=torch.float32)
        if self.num_points is not None:
            # One draw per image, also when N == 0, so the random stream matches the official loop.
            coords = torch.rand(1, self.num_points, 2, device=pred.device)
            # Maps as channels of a batch of one: every prediction / GT mask is read at the same points.
            pred_rows = point_sample(pred[None], coords)[0]
            tgt_rows = point_sample(gt[None], coords)[0] if len(target) else gt.new_zeros(0, self.num_points)
            return pred_rows, tgt_rows
        if len(target):
            gt = F.interpolate(gt[:, None], size=pred.shape[-2:], mode="nearest")[:, 0]
        else:
            gt = gt.new_zeros(0, *pred.shape[-2:])
        return pred.flatten(1), gt.flatten(1)


def _check_inputs(class_logits: Tensor, mask_logits: Tensor, targets: Sequence[Targets]) -> None:
    if class_logits.ndim != 3 or mask_logits.ndim != 4:
        raise ValueError(
            f"Matcher expects class_logits [B, Q, K+1] and mask_logits [B, Q, h, w], got "
            f"{tuple(class_logits.shape)} and {tuple(mask_logits.shape)}"
        )
    if class_logits.shape[:2] != mask_logits.shape[:2]:
        raise ValueError(
            f"class_logits {tuple(class_logits.shape)} and mask_logits {tuple(mask_logits.shape)} "
            "disagree on [B, Q]"
        )
    if len(targets) != class_logits.shape[0]:
        raise ValueError(f"Got {len(targets)} Targets for a batch of {class_logits.shape[0]} predictions")
    num_classes = class_logits.shape[-1] - 1
    if sum(len(t) for t in targets) == 0:
        return
    labels = torch.cat([t.labels.reshape(-1) for t in targets])
    low, high = torch.stack([labels.min(), labels.max()]).tolist()  # one host sync
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"Targets labels must lie in [0, {num_classes}) (K = {num_classes} classes, the last logit is "
            f"'no object'); got range [{low}, {high}]. Map ignored or void segments out of Targets before the loss."
        )
