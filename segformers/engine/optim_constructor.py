"""The official MaskFormer / Mask2Former optimizer parameter groups (detectron2 ``train_net.py``).

Each trainable parameter gets an ``lr`` and a ``weight_decay``, walking ``model.named_modules()`` and each
module's own parameters (shared parameters once). Every one starts at the optimizer's ``lr`` /
``weight_decay``; then, in this order:

1. ``lr *= backbone_multiplier`` if the module's name contains ``backbone_key`` ("backbone");
2. ``weight_decay = 0`` if the parameter's own name contains one of ``no_decay_names`` (Swin's
   ``relative_position_bias_table``, ``absolute_pos_embed``);
3. ``weight_decay = weight_decay_norm`` if the module is a norm layer (BatchNorm*, SyncBatchNorm,
   GroupNorm, InstanceNorm*, LayerNorm, LocalResponseNorm, and their subclasses);
4. ``weight_decay = weight_decay_embed`` if the module is an ``nn.Embedding``.

Biases of convs / linears keep weight decay; an ``nn.Parameter`` level embedding keeps it too (only
``nn.Embedding`` modules lose it). ``FrozenBatchNorm2d`` holds buffers only, so it adds no group.

Parameters that end up with the same ``lr`` and ``weight_decay`` then share one group
(``merge_groups=True``, the default): the optimizer does the same arithmetic, but one group per rule
instead of one per parameter (176 for the quick-start model, 345 for Mask2Former R50) makes AdamW's
step cheaper (``tools/analysis/bench_optimizer.py``). ``merge_groups=False`` keeps the official
one-group-per-parameter layout (and resumes checkpoints whose optimizer state was saved with it: a
state only loads into the layout it was saved from). Each group carries ``names`` (the full parameter
names, in order) for inspection; :func:`group_of_each_parameter` maps a parameter name to its group.
"""
from __future__ import annotations

from typing import Iterator, Optional

from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from ..registry import OPTIM_WRAPPER_CONSTRUCTORS

NORM_TYPES = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.GroupNorm,
    nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d, nn.LayerNorm, nn.LocalResponseNorm,
)

DEFAULT_PARAMWISE = dict(
    backbone_multiplier=0.1,
    backbone_key="backbone",
    no_decay_names=("relative_position_bias_table", "absolute_pos_embed"),
    weight_decay_norm=0.0,
    weight_decay_embed=0.0,
    merge_groups=True,
)


def group_of_each_parameter(param_groups: list[dict]) -> dict[str, dict]:
    """``{full parameter name: its param group}`` for the groups this constructor built."""
    return {name: g for g in param_groups for name in g.get("names", ())}


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MaskFormerOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Builds the optim wrapper with the official per-parameter lr / weight-decay rules.

    Args:
        optim_wrapper_cfg: the ``optim_wrapper`` config (``optimizer`` must set ``lr`` and ``weight_decay``).
        paramwise_cfg: overrides of ``backbone_multiplier`` (0.1), ``backbone_key`` ("backbone"),
            ``no_decay_names``, ``weight_decay_norm`` (0.0), ``weight_decay_embed`` (0.0),
            ``merge_groups`` (True: one group per distinct ``(lr, weight_decay)``).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        unknown = set(paramwise_cfg or {}) - set(DEFAULT_PARAMWISE)
        if unknown:
            raise KeyError(
                f"Unknown paramwise_cfg keys {sorted(unknown)} for MaskFormerOptimWrapperConstructor; "
                f"it accepts {sorted(DEFAULT_PARAMWISE)}."
            )
        super().__init__(optim_wrapper_cfg, {**DEFAULT_PARAMWISE, **(paramwise_cfg or {})})
        if self.base_lr is None or self.base_wd is None:
            raise ValueError("optim_wrapper.optimizer must set both 'lr' and 'weight_decay' for these rules.")

    def add_params(self, params: list, module: nn.Module, prefix: str = "", **kwargs) -> None:
        """Append ``{"params", "lr", "weight_decay", "names"}`` groups: one per rule, or one per parameter."""
        merged: dict[tuple, dict] = {}
        for name, param, lr, wd in self._rules(module, prefix):
            key = (lr, wd) if self.paramwise_cfg["merge_groups"] else (name,)
            if key not in merged:
                merged[key] = {"params": [], "lr": lr, "weight_decay": wd, "names": []}
                params.append(merged[key])
            merged[key]["params"].append(param)
            merged[key]["names"].append(name)

    def _rules(self, module: nn.Module, prefix: str) -> Iterator[tuple[str, nn.Parameter, float, float]]:
        """``(full name, parameter, lr, weight_decay)`` of every trainable parameter, shared ones once."""
        cfg = self.paramwise_cfg
        seen: set[int] = set()
        for module_name, mod in module.named_modules(prefix=prefix):
            for param_name, param in mod.named_parameters(recurse=False):
                if not param.requires_grad or id(param) in seen:
                    continue
                seen.add(id(param))
                lr, wd = self.base_lr, self.base_wd
                if cfg["backbone_key"] in module_name:
                    lr = lr * cfg["backbone_multiplier"]
                if any(key in param_name for key in cfg["no_decay_names"]):
                    wd = 0.0
                if isinstance(mod, NORM_TYPES):
                    wd = cfg["weight_decay_norm"]
                if isinstance(mod, nn.Embedding):
                    wd = cfg["weight_decay_embed"]
                yield (f"{module_name}.{param_name}" if module_name else param_name), param, lr, wd
