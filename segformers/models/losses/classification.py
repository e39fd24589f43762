"""Classification loss over all queries with a down-weighted "no object" class."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segformers.registry import LOSSES


@LOSSES.register_module()
class CrossEntropyLoss(nn.Module):
    """Weighted-mean cross-entropy over all ``B * Q`` queries, class weights ``[1, ..., 1, no_object_weight]``.

    Unmatched queries target the "no object" class ``K``. The loss is *not* divided by ``num_masks``
    (official ``loss_labels``); logits are cast to float32.

    Args:
        num_classes: ``K`` (injected by the criterion).
        no_object_weight: weight of class ``K`` (official ``NO_OBJECT_WEIGHT`` 0.1).
        loss_weight: multiplier applied by the criterion.
        name: the key suffix: the criterion reports ``loss_{name}``.

    Call: ``loss(class_logits [B, Q, K+1], target_classes [B, Q] int64 in [0, K]) -> scalar`` (unweighted).
    """

    def __init__(self, *, num_classes: int, no_object_weight: float = 0.1, loss_weight: float = 1.0,
                 name: str = "ce") -> None:
        super().__init__()
        if num_classes <= 0:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.num_classes = num_classes
        self.no_object_weight = float(no_object_weight)
        self.loss_weight = float(loss_weight)
        self.name = name
        class_weight = torch.ones(num_classes + 1)
        class_weight[-1] = self.no_object_weight
        # Derived from the config, so it is not saved (official checkpoints hold it as criterion.empty_weight).
        self.register_buffer("class_weight", class_weight, persistent=False)

    def forward(self, class_logits: Tensor, target_classes: Tensor) -> Tensor:
        if class_logits.shape[-1] != self.num_classes + 1:
            raise ValueError(
                f"class_logits have {class_logits.shape[-1]} entries per query, expected num_classes + 1 = "
                f"{self.num_classes + 1} (the last one is 'no object'); check the decoder's num_classes"
            )
        weight = self.class_weight.to(class_logits.device)
        return F.cross_entropy(class_logits.float().transpose(1, 2), target_classes, weight=weight)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, no_object_weight={self.no_object_weight}, " \
               f"loss_weight={self.loss_weight}, name={self.name!r}"
