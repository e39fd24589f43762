"""Fuzzing the inputs of the dataset transforms and of the HF-style processor (bounded, derandomized):
random sizes (0 included), dtypes, channel layouts and id ranges give either a ``ValueError`` /
``TypeError`` that names the argument, or a valid output; plainly valid inputs always give the latter.
(The geometric alignment of valid inputs is tested in test_transforms_hypothesis.py.)"""
from __future__ import annotations

import re

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_transforms_hypothesis import transform_cfg

from segformers.processing import MaskFormerImageProcessor
from segformers.registry import TRANSFORMS

IGNORE = 255
FUZZ = settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
DTYPES = ("uint8", "float32", "int16", "uint16", "bool", "int64")
ID_RANGES = ((0, 5), (-2, 3), (250, 300))


def array(draw, shape: tuple, dtype: str, lo: int = 0, hi: int = 255) -> np.ndarray:
    rng = np.random.RandomState(draw(st.integers(0, 1000)))
    return rng.randint(lo, hi + 1, size=shape).astype(dtype)


@st.composite
def results_cases(draw) -> tuple[dict, list[dict], bool]:
    """A results dict, a pipeline ending in PackSegInputs, and whether the input meets the contract."""
    h, w = draw(st.integers(0, 12)), draw(st.integers(0, 12))
    layout = draw(st.sampled_from(["hwc3", "hw", "hwc1", "hwc4", "chw3"]))
    shape = {"hwc3": (h, w, 3), "hw": (h, w), "hwc1": (h, w, 1), "hwc4": (h, w, 4), "chw3": (3, h, w)}[layout]
    dtype = draw(st.sampled_from(DTYPES))
    res = dict(img=array(draw, shape, dtype), ignore_index=IGNORE)
    valid = dtype == "uint8" and layout == "hwc3" and h > 0 and w > 0
    use_sem, use_masks = draw(st.booleans()), draw(st.booleans())
    if use_sem:
        sem_hw = draw(st.sampled_from([(h, w), (h + 1, w)]))
        sem_dtype = draw(st.sampled_from(["int32", "int64", "uint8", "float32", "bool"]))
        res["gt_sem_seg"] = array(draw, sem_hw, sem_dtype, *draw(st.sampled_from(ID_RANGES)))
        valid &= sem_hw == (h, w) and sem_dtype not in ("float32", "bool")
        if not use_masks:  # then the semantic classes become the targets
            valid &= bool(((res["gt_sem_seg"] >= 0) | (res["gt_sem_seg"] == IGNORE)).all())
    if use_masks:
        n = draw(st.integers(0, 3))
        res["gt_masks"] = array(draw, (n, h, w), "uint8", 0, 1).astype(bool)
        labels = np.arange(draw(st.sampled_from([n, n + 1]))) - draw(st.integers(0, 1))
        res.update(gt_labels=labels, gt_seg_ids=np.arange(n) + 1)
        valid &= len(labels) == n and bool((labels >= 0).all())
    steps = [draw(transform_cfg()) for _ in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        steps.append(dict(type="ColorAugSSD", seed=0))
    return res, steps + [dict(type="PackSegInputs")], valid


@FUZZ
@given(results_cases())
def test_transforms_give_a_named_error_or_a_valid_sample(case):
    results, steps, valid = case
    try:
        for cfg in steps:
            results = TRANSFORMS.build(cfg)(results)
    except (ValueError, TypeError) as err:
        assert not valid, f"valid input refused: {err}"
        assert re.match(r"^\w+: results\['(img|gt_sem_seg|gt_masks|gt_labels)'\] ", str(err)), str(err)
        return
    assert valid, "an input outside the contract passed unnoticed"
    inputs, sample = results["inputs"], results["data_samples"]
    assert inputs.dtype == torch.uint8 and inputs.ndim == 3 and inputs.shape[0] == 3
    hw = tuple(inputs.shape[1:])
    masks, labels = sample.gt.masks, sample.gt.labels
    assert masks.dtype == torch.bool and masks.ndim == 3 and tuple(masks.shape[1:]) == hw
    assert labels.dtype == torch.int64 and labels.shape == (masks.shape[0],) and bool((labels >= 0).all())
    if "gt_sem_seg" in sample:
        assert tuple(sample.gt_sem_seg.shape) == hw


@st.composite
def processor_cases(draw) -> tuple[dict, dict, bool]:
    """Processor arguments, call arguments, and whether they are plainly valid."""
    h, w, c = draw(st.integers(0, 12)), draw(st.integers(0, 12)), draw(st.sampled_from([1, 2, 3, 4]))
    layout = draw(st.sampled_from(["chw", "hwc", "hw"]))
    dtype = draw(st.sampled_from(DTYPES + ("float64",)))
    shape = {"chw": (c, h, w), "hwc": (h, w, c), "hw": (h, w)}[layout]
    image = array(draw, shape, dtype, 0, 1 if dtype.startswith("float") or dtype == "bool" else 255)
    ignore = draw(st.sampled_from([None, IGNORE, -1]))
    init = dict(ignore_index=ignore, do_reduce_labels=ignore is not None and draw(st.booleans()),
                do_resize=draw(st.booleans()), size={"shortest_edge": 8, "longest_edge": 16})
    fmt = draw(st.sampled_from([None, "channels_first", "channels_last"]))
    call = dict(images=image, input_data_format=fmt)
    valid = dtype == "uint8" and layout == "hwc" and c == 3 and h > 3 and w > 3 and fmt in (None, "channels_last")
    if draw(st.booleans()):
        seg_hw = draw(st.sampled_from([(h, w), (h + 1, w)]))
        seg = array(draw, seg_hw, draw(st.sampled_from(["int64", "int32", "uint8", "float32", "bool"])),
                    *draw(st.sampled_from(ID_RANGES)))
        call["segmentation_maps"] = seg
        valid &= seg_hw == (h, w) and bool((seg >= 0).all())
    return init, call, valid


@FUZZ
@given(processor_cases())
def test_the_processor_gives_a_named_error_or_valid_tensors(case):
    init, call, valid = case
    try:
        out = MaskFormerImageProcessor(**init)(**call)
    except (ValueError, TypeError) as err:
        assert not valid, f"valid input refused: {err}"
        assert re.search(r"image|segmentation map|segmentation_maps|input_data_format", str(err)), str(err)
        return
    pixels, mask = out["pixel_values"], out["pixel_mask"]
    assert pixels.ndim == 4 and pixels.shape[0] == 1 and torch.isfinite(pixels).all()
    assert tuple(mask.shape) == (1, *pixels.shape[2:]) and set(mask.unique().tolist()) <= {0, 1}
    if "segmentation_maps" in call:
        masks, classes = out["mask_labels"][0], out["class_labels"][0]
        assert tuple(masks.shape) == (len(classes), *pixels.shape[2:]) and set(masks.unique().tolist()) <= {0.0, 1.0}
        assert classes.dtype == torch.int64 and bool((classes >= 0).all())
