"""What a match cost sees (:class:`MatchInputs`) and the base class every match cost derives from."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Union

from torch import Tensor, nn

Rows = tuple[Tensor, Tensor]


@dataclass
class MatchInputs:
    """One image's ``Q`` predictions and ``N`` ground-truth segments, as every match cost receives them.

    Args:
        class_logits: ``[Q, K+1]`` float32.
        labels: ``[N]`` int64 class ids, on ``class_logits``' device.
        mask_logits: ``[Q, h, w]`` float32, the 2-D predicted mask logits (decoder resolution).
        target_masks: ``[N, H, W]`` bool or 0/1 ground-truth masks (padded input resolution).
        rows: the mask rows of the matcher's comparison, or a function that computes them the first
            time :attr:`pred_rows` / :attr:`target_rows` is read.

    ``pred_rows [Q, P]`` / ``target_rows [N, P]`` (float32) are the masks on the ``P`` points (or pixels)
    the matcher compares them on; a cost that needs whole masks reads ``mask_logits`` / ``target_masks``.
    """

    class_logits: Tensor
    labels: Tensor
    mask_logits: Optional[Tensor] = None
    target_masks: Optional[Tensor] = None
    rows: Union[None, Rows, Callable[[], Rows]] = None

    @classmethod
    def from_rows(cls, class_logits: Tensor, labels: Tensor, pred_rows: Tensor, target_rows: Tensor) -> "MatchInputs":
        """Inputs with precomputed rows only (no 2-D masks), e.g. to test a row cost."""
        return cls(class_logits.float(), labels, rows=(pred_rows.float(), target_rows.float()))

    def mask_rows(self) -> Rows:
        """``(pred_rows [Q, P], target_rows [N, P])``, computed once on first use."""
        if callable(self.rows):
            self.rows = self.rows()
        if self.rows is None:
            raise ValueError("These MatchInputs carry no mask rows: build them with rows=... (the matcher does).")
        return self.rows

    @property
    def pred_rows(self) -> Tensor:
        return self.mask_rows()[0]

    @property
    def target_rows(self) -> Tensor:
        return self.mask_rows()[1]

    @property
    def num_queries(self) -> int:
        return int(self.class_logits.shape[0])

    @property
    def num_targets(self) -> int:
        return int(self.labels.shape[0])


class MatchCost(nn.Module):
    """Base class of every match cost (``MATCH_COSTS``): ``forward(inputs) = weight * cost(inputs)``.

    Subclasses implement :meth:`cost` ``(MatchInputs) -> [Q, N]``; the result is checked for its shape
    and returned in float32. ``weight`` is a plain attribute (``MatchCostScheduleHook`` changes it).
    """

    def __init__(self, *, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = float(weight)

    def cost(self, inputs: MatchInputs) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement cost(inputs) -> [Q, N]")

    def forward(self, inputs: MatchInputs) -> Tensor:
        out = self.cost(inputs)
        expected = (inputs.num_queries, inputs.num_targets)
        if tuple(out.shape) != expected:
            raise ValueError(f"{type(self).__name__}.cost returned shape {tuple(out.shape)}, expected [Q, N] = "
                             f"{list(expected)}.")
        return self.weight * out.float()

    def extra_repr(self) -> str:
        return f"weight={self.weight}"
