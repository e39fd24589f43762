"""Contract checks for the research roles: build a part small, run it on random inputs, compare what
comes out with what it declares (:mod:`segformers.structures`).

``check_contract(registry, part)`` builds ``part`` (a registered name or a class) of ``registry``'s role
with the keyword arguments its owner would inject, plus the part's ``tiny_config`` class attribute (a
dict of constructor arguments for a small instance; needed only when the defaults cannot be built or
are slow), then runs it once and raises :class:`ContractError` naming the part and the first broken
promise. ``tests/test_contracts.py`` runs it over every entry of every research registry, plugins under
``projects/`` included.
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.registry import Registry
from torch import Tensor

from .registry import (
    AUX_HEADS, BACKBONES, CRITERIA, LOSSES, MATCH_COSTS, MATCHERS, PIXEL_DECODERS, POSTPROCESSORS,
    TRANSFORMER_DECODERS,
)
from .structures import (
    AuxiliaryHead, Backbone, ClassificationLoss, Criterion, DecoderOutput, FeatureShapes, MatchedMaskLoss, Matcher,
    MatchInputs, PairCost, PixelDecoder, PixelDecoderOutput, Postprocessor, ShapeSpec, Targets, TransformerDecoder,
    check_backbone_shapes, check_pixel_decoder_shapes, select_features,
)

NUM_CLASSES = 3
BATCH, HEIGHT, WIDTH = 2, 64, 96  # the images of the check; every stride up to 32 divides them
QUERIES = 5
# what the pixel decoder, the transformer decoder and the auxiliary head are built on (distinct channels:
# a part that reads the wrong map gets the wrong width)
BACKBONE_SHAPES = {"res2": ShapeSpec(16, 4), "res3": ShapeSpec(24, 8), "res4": ShapeSpec(32, 16),
                   "res5": ShapeSpec(40, 32)}
PIXEL_DECODER_SHAPES = {"mask_features": ShapeSpec(12, 4), "encoder": ShapeSpec(20, 32),
                        "multi_scale": [ShapeSpec(20, 32), ShapeSpec(20, 16), ShapeSpec(20, 8)]}


class ContractError(AssertionError):
    """A part does not do what its role's contract (or its own ``output_shape()``) promises."""


def _expect(ok: bool, owner: str, problem: str) -> None:
    if not ok:
        raise ContractError(f"{owner}: {problem}")


def _run(owner: str, what: str, fn: Callable[[], Any]) -> Any:
    """``fn()``; an exception on valid inputs breaks the contract."""
    try:
        return fn()
    except ContractError:
        raise
    except Exception as e:  # noqa: BLE001 - reported with the part's name, the cause chained
        raise ContractError(f"{owner}: {what} raised {type(e).__name__}: {e}") from e


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def feature_bank(shapes: dict[str, Any], batch: int = BATCH, size: tuple[int, int] = (HEIGHT, WIDTH)) -> dict:
    """Random features ``[batch, channels, H / stride, W / stride]`` for every spec (lists stay lists)."""
    g = _generator(1)

    def make(spec: ShapeSpec) -> Tensor:
        return torch.randn(batch, spec.channels, size[0] // spec.stride, size[1] // spec.stride, generator=g)

    return {k: [make(s) for s in v] if isinstance(v, list) else make(v) for k, v in shapes.items()}


def spec_bank() -> FeatureShapes:
    """The spec bank the transformer decoder and the auxiliary head are built on."""
    return FeatureShapes(BACKBONE_SHAPES, PIXEL_DECODER_SHAPES, backbone_name="the check's backbone",
                         pixel_decoder_name="the check's pixel decoder")


def random_targets(counts: tuple[int, ...] = (3, 0), size: tuple[int, int] = (HEIGHT, WIDTH)) -> list[Targets]:
    """One :class:`Targets` per count, labels in ``[0, NUM_CLASSES)``, random masks of ``size``."""
    g = _generator(2)
    return [Targets(torch.randint(0, NUM_CLASSES, (n,), generator=g), torch.rand(n, *size, generator=g) > 0.5)
            for n in counts]


def _tensor_shape(owner: str, what: str, x: Any, shape: tuple[int, ...]) -> None:
    _expect(isinstance(x, Tensor), owner, f"{what} must be a Tensor, got {type(x).__name__}")
    _expect(tuple(x.shape) == shape, owner, f"{what} has shape {tuple(x.shape)}, but its spec says {shape}")
    _expect(bool(torch.isfinite(x).all()), owner, f"{what} has NaN/inf values")


def _spec_shape(spec: ShapeSpec, batch: int, size: tuple[int, int]) -> tuple[int, ...]:
    return batch, spec.channels, size[0] // spec.stride, size[1] // spec.stride


def _scalar_losses(owner: str, losses: Any) -> Tensor:
    _expect(isinstance(losses, dict) and len(losses) > 0, owner, f"must return a non-empty dict, got {losses!r}")
    for key, value in losses.items():
        _expect(key.startswith("loss"), owner, f"loss key {key!r} must start with 'loss' (mmengine sums those)")
        _expect(isinstance(value, Tensor) and value.ndim == 0 and bool(torch.isfinite(value)), owner,
                f"{key} must be a finite scalar Tensor, got {value!r}")
    return sum(losses.values())


def _build(registry: Registry, cls: type, kwargs: dict, **injected: Any) -> tuple[str, Any]:
    """``(owner, part)``: the part's name for messages, and the part built as its owner would build it."""
    owner = f"{registry.name} {cls.__name__}"
    cfg = dict(type=cls, **kwargs)
    return owner, _run(owner, "building it", lambda: registry.build(cfg, default_args=injected or None))


# --- one check per role ------------------------------------------------------------------------------
def check_backbone(cls: type, kwargs: dict) -> Any:
    owner, part = _build(BACKBONES, cls, kwargs)
    _expect(isinstance(part, Backbone), owner, "needs output_shape() and size_divisibility (structures.Backbone)")
    shapes = part.output_shape()
    _run(owner, "output_shape()", lambda: check_backbone_shapes(owner, shapes))
    step = math.lcm(max(int(part.size_divisibility), 1), *(s.stride for s in shapes.values()))
    size = (2 * step, 3 * step)
    with torch.no_grad():
        out = _run(owner, "forward", lambda: part.eval()(torch.randn(BATCH, 3, *size, generator=_generator())))
    _expect(isinstance(out, dict) and set(out) == set(shapes), owner,
            f"forward returned {sorted(out) if isinstance(out, dict) else type(out).__name__}, but output_shape() "
            f"declares {sorted(shapes)}")
    for name, spec in shapes.items():
        _tensor_shape(owner, f"output {name!r}", out[name], _spec_shape(spec, BATCH, size))
    return part


def check_pixel_decoder_output(owner: str, shapes: dict, out: Any, size: tuple[int, int]) -> None:
    """``out`` is a :class:`PixelDecoderOutput` whose tensors have the declared ``shapes`` at image ``size``."""
    _expect(isinstance(out, PixelDecoderOutput), owner, f"forward must return PixelDecoderOutput, got {type(out)}")
    _tensor_shape(owner, "mask_features", out.mask_features, _spec_shape(shapes["mask_features"], BATCH, size))
    levels = list(out.multi_scale_features)
    _expect(len(levels) == len(shapes["multi_scale"]), owner, f"returned {len(levels)} multi_scale_features, but "
            f"output_shape() declares {len(shapes['multi_scale'])}")
    for i, (x, spec) in enumerate(zip(levels, shapes["multi_scale"])):
        _tensor_shape(owner, f"multi_scale_features[{i}]", x, _spec_shape(spec, BATCH, size))
    _expect((out.encoder_features is None) == ("encoder" not in shapes), owner,
            "returns encoder_features exactly when output_shape() declares 'encoder'")
    if out.encoder_features is not None:
        _tensor_shape(owner, "encoder_features", out.encoder_features, _spec_shape(shapes["encoder"], BATCH, size))


def check_pixel_decoder(cls: type, kwargs: dict) -> Any:
    owner, part = _build(PIXEL_DECODERS, cls, kwargs, input_shape=dict(BACKBONE_SHAPES))
    _expect(isinstance(part, PixelDecoder), owner, "needs output_shape() (structures.PixelDecoder)")
    shapes = part.output_shape()
    _run(owner, "output_shape()", lambda: check_pixel_decoder_shapes(owner, shapes))
    with torch.no_grad():
        out = _run(owner, "forward", lambda: part.eval()(feature_bank(BACKBONE_SHAPES)))
    check_pixel_decoder_output(owner, shapes, out, (HEIGHT, WIDTH))
    return part


def check_decoder_output(owner: str, out: Any, batch: int, num_classes: int, mask_size: tuple[int, int]) -> None:
    """``out`` is a :class:`DecoderOutput` of aligned ``[B, Q, K+1]`` / ``[B, Q, *mask_size]`` sets."""
    _expect(isinstance(out, DecoderOutput), owner, f"forward must return DecoderOutput, got {type(out).__name__}")
    _expect(len(out.class_logits) == len(out.mask_logits) > 0, owner,
            f"needs as many mask_logits as class_logits (>= 1), got {len(out.class_logits)} / {len(out.mask_logits)}")
    queries = out.class_logits[-1].shape[1] if out.class_logits[-1].ndim == 3 else -1
    for i, (c, m) in enumerate(zip(out.class_logits, out.mask_logits)):
        _tensor_shape(owner, f"class_logits[{i}]", c, (batch, queries, num_classes + 1))
        _tensor_shape(owner, f"mask_logits[{i}]", m, (batch, queries, *mask_size))


def check_transformer_decoder(cls: type, kwargs: dict) -> Any:
    bank = spec_bank()
    owner, part = _build(TRANSFORMER_DECODERS, cls, kwargs, num_classes=NUM_CLASSES, input_shape=bank)
    _expect(isinstance(part, TransformerDecoder), owner, "needs in_feature and num_feature_levels "
            "(structures.TransformerDecoder)")
    features = feature_bank(bank)
    inputs = _run(owner, f"selecting in_feature={part.in_feature!r}",
                  lambda: select_features(features, part.in_feature, part.num_feature_levels))
    out = _run(owner, "forward", lambda: part.train()(inputs, features["mask_features"]))
    check_decoder_output(owner, out, BATCH, NUM_CLASSES, tuple(features["mask_features"].shape[-2:]))
    _run(owner, "backward", lambda: (sum(c.sum() for c in out.class_logits) + out.pred_masks.sum()).backward())
    return part


def check_auxiliary_head(cls: type, kwargs: dict) -> Any:
    bank = spec_bank()
    owner, part = _build(AUX_HEADS, cls, kwargs, num_classes=NUM_CLASSES, input_shape=bank)
    _expect(isinstance(part, AuxiliaryHead), owner, "needs in_feature and loss(x, targets) (structures.AuxiliaryHead)")
    x = select_features(feature_bank(bank), part.in_feature)[0]
    total = _scalar_losses(owner, _run(owner, "loss", lambda: part.train().loss(x, random_targets())))
    _run(owner, "backward", total.backward)
    return part


def _predictions(layers: int = 1, batch: int = BATCH, mask_size: tuple[int, int] = (16, 24)) -> DecoderOutput:
    g = _generator(3)
    cls = [torch.randn(batch, QUERIES, NUM_CLASSES + 1, generator=g).requires_grad_() for _ in range(layers)]
    masks = [torch.randn(batch, QUERIES, *mask_size, generator=g).requires_grad_() for _ in range(layers)]
    return DecoderOutput(cls, masks)


def check_matcher(cls: type, kwargs: dict) -> Any:
    owner, part = _build(MATCHERS, cls, kwargs)
    _expect(isinstance(part, Matcher), owner, "must be callable (structures.Matcher)")
    targets = random_targets((3, 0, QUERIES + 2))  # fewer, no and more segments than queries
    pred = _predictions(batch=len(targets))
    indices = _run(owner, "matching", lambda: part(pred.pred_logits, pred.pred_masks, targets))
    _expect(isinstance(indices, list) and len(indices) == len(targets), owner, "must return one pair per image")
    for b, (pair, target) in enumerate(zip(indices, targets)):
        src, tgt = pair
        n = min(QUERIES, len(target))
        _expect(src.dtype == tgt.dtype == torch.int64 and len(src) == len(tgt) == n, owner,
                f"image {b}: needs int64 (pred_idx, tgt_idx) of length min(Q, N) = {n}")
        _expect(len(set(src.tolist())) == n == len(set(tgt.tolist())), owner, f"image {b}: indices repeat")
        _expect(all(0 <= i < QUERIES for i in src.tolist()) and all(0 <= j < len(target) for j in tgt.tolist()),
                owner, f"image {b}: indices out of range")
    return part


def match_inputs(num_targets: int) -> MatchInputs:
    """One image's :class:`MatchInputs` (``Q = QUERIES``) with rows on every pixel of the prediction."""
    pred = _predictions()
    target = random_targets((num_targets,))[0]
    logits = pred.pred_masks[0].detach()
    rows = F.interpolate(target.masks[:, None].float(), size=logits.shape[-2:], mode="nearest")[:, 0].flatten(1)
    return MatchInputs(class_logits=pred.pred_logits[0].detach(), labels=target.labels, mask_logits=logits,
                       target_masks=target.masks, rows=(logits.flatten(1), rows))


def check_match_cost(cls: type, kwargs: dict) -> Any:
    owner, part = _build(MATCH_COSTS, cls, kwargs)
    _expect(isinstance(part, PairCost), owner, "needs weight and __call__(MatchInputs) (structures.PairCost)")
    for n in (3, 0):
        cost = _run(owner, f"the cost of {n} targets", lambda: part(match_inputs(n)))
        _tensor_shape(owner, f"cost of {n} targets", cost, (QUERIES, n))
        _expect(cost.dtype == torch.float32, owner, f"cost must be float32, got {cost.dtype}")
    return part


def check_loss(cls: type, kwargs: dict) -> Any:
    """Class losses (those taking ``num_classes``) on ``[B, Q, K+1]`` logits, the others on matched rows."""
    g = _generator(4)
    if "num_classes" in inspect.signature(cls).parameters:
        owner, part = _build(LOSSES, cls, kwargs, num_classes=NUM_CLASSES)
        _expect(isinstance(part, ClassificationLoss), owner, "needs name, loss_weight, num_classes "
                "(structures.ClassificationLoss)")
        logits = torch.randn(BATCH, QUERIES, NUM_CLASSES + 1, generator=g).requires_grad_()
        args = (logits, torch.randint(0, NUM_CLASSES + 1, (BATCH, QUERIES), generator=g))
    else:
        owner, part = _build(LOSSES, cls, kwargs)
        _expect(isinstance(part, MatchedMaskLoss), owner, "needs name and loss_weight (structures.MatchedMaskLoss)")
        logits = torch.randn(4, 20, generator=g).requires_grad_()
        args = (logits, (torch.rand(4, 20, generator=g) > 0.5).float(), 2.0)
    value = _run(owner, "the loss", lambda: part(*args))
    _scalar_losses(owner, {f"loss_{part.name}": value})
    _run(owner, "backward", value.backward)
    _expect(logits.grad is not None, owner, "the loss does not reach its inputs' gradients")
    return part


def check_criterion(cls: type, kwargs: dict) -> Any:
    owner, part = _build(CRITERIA, cls, kwargs, num_classes=NUM_CLASSES)
    _expect(isinstance(part, Criterion), owner, "must be callable (structures.Criterion)")
    outputs = _predictions(layers=3)
    total = _scalar_losses(owner, _run(owner, "the losses", lambda: part(outputs, random_targets())))
    _run(owner, "backward", total.backward)
    _expect(outputs.pred_logits.grad is not None, owner, "the losses do not reach the final prediction")
    return part


def check_postprocessor(cls: type, kwargs: dict) -> Any:
    owner, part = _build(POSTPROCESSORS, cls, kwargs)
    _expect(isinstance(part, Postprocessor), owner, "must be callable (structures.Postprocessor)")
    pred, ori = _predictions(), (120, 180)
    meta = dict(batch_input_shape=(HEIGHT, WIDTH), img_shape=(60, 90), ori_shape=ori, thing_ids=[0])
    with torch.no_grad():
        result = _run(owner, "post-processing", lambda: part(pred.pred_logits[0], pred.pred_masks[0], meta))
    _expect(isinstance(result, dict) and result.keys() & {"sem_seg", "panoptic_seg", "instances"}, owner,
            "must return a dict with sem_seg, panoptic_seg and/or instances")
    if "sem_seg" in result:
        _tensor_shape(owner, "sem_seg", result["sem_seg"], (NUM_CLASSES, *ori))
    if "panoptic_seg" in result:
        _expect(tuple(result["panoptic_seg"][0].shape) == ori, owner, "panoptic_seg ids must be [H, W] at ori_shape")
    if "instances" in result:
        _expect(tuple(result["instances"]["masks"].shape[1:]) == ori, owner, "instance masks must be at ori_shape")
    return part


CHECKS: dict[str, Callable[[type, dict], Any]] = {
    BACKBONES.name: check_backbone, PIXEL_DECODERS.name: check_pixel_decoder,
    TRANSFORMER_DECODERS.name: check_transformer_decoder, AUX_HEADS.name: check_auxiliary_head,
    MATCHERS.name: check_matcher, MATCH_COSTS.name: check_match_cost, LOSSES.name: check_loss,
    CRITERIA.name: check_criterion, POSTPROCESSORS.name: check_postprocessor,
}
"""The check of each research registry, by registry name."""


def check_contract(registry: Registry, part: Union[str, type], cfg: Optional[dict] = None) -> Any:
    """Build ``part`` (a name in ``registry`` or a class) small and check it against its role's contract.

    ``cfg``: constructor arguments over the class's ``tiny_config`` (default: ``tiny_config`` or nothing).
    Returns the built part; raises :class:`ContractError` naming the part and what it broke.
    """
    if registry.name not in CHECKS:
        raise ValueError(f"No contract for the {registry.name} registry; research registries: {sorted(CHECKS)}.")
    cls = registry.get(part) if isinstance(part, str) else part
    if cls is None:
        raise KeyError(f"{part!r} is not in the {registry.name} registry.")
    torch.manual_seed(0)
    return CHECKS[registry.name](cls, {**getattr(cls, "tiny_config", {}), **(cfg or {})})
