"""Randomized parity of the post-processing with transformers 5.23 (property-based).

The reference is ``MaskFormerImageProcessor`` (PIL): its post-processing works at the logits'
resolution, like ours. transformers' Mask2Former class first resizes the logits to 384x384, so it is
compared on 384x384 logits only (where that resize is the identity). Where transformers is faulty
(panoptic ids when a fused label has several segments; the COCO output format) we compare with a
reference derived from its sound outputs.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from hf_processing_utils import decode_hf_runs, hf_classes, hf_output
from segformers.processing import MaskFormerImageProcessor
from segformers.structures import SegmentationOutput

THRESHOLDS = [0.0, 0.1, 0.3, 0.5, 0.8, 0.95]
OURS = MaskFormerImageProcessor()


@st.composite
def model_outputs(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    b, q, k = int(rng.integers(1, 3)), int(rng.integers(1, 9)), int(rng.choice([1, 2, 5]))
    h, w = int(rng.integers(3, 21)), int(rng.integers(3, 21))
    sharp = draw(st.sampled_from([1.0, 4.0]))  # larger = more confident queries
    cls = torch.from_numpy(rng.normal(0, sharp, (b, q, k + 1)).astype(np.float32))
    coarse = rng.normal(0, sharp * 2, (b, q, max(1, h // 4), max(1, w // 4))).astype(np.float32)
    masks = torch.nn.functional.interpolate(torch.from_numpy(coarse), size=(h, w), mode="bilinear")
    if draw(st.booleans()):
        masks = masks + torch.from_numpy(rng.normal(0, 0.5, (b, q, h, w)).astype(np.float32))
    targets = None
    if draw(st.booleans()):
        targets = [(int(rng.integers(2, 30)), int(rng.integers(2, 30))) for _ in range(b)]
    return cls, masks, targets


def _ours_input(cls, masks, as_segformers: bool):
    return SegmentationOutput(cls, masks) if as_segformers else hf_output(cls, masks)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(data=model_outputs(), scores=st.booleans(), as_segformers=st.booleans())
def test_semantic_matches(data, scores, as_segformers):
    cls, masks, targets = data
    ref = hf_classes()["maskformer"]().post_process_semantic_segmentation(
        hf_output(cls, masks), target_sizes=targets, return_segmentation_scores=scores
    )
    ours = OURS.post_process_semantic_segmentation(_ours_input(cls, masks, as_segformers), targets, scores)
    for mine, theirs in zip(ours, ref):
        if scores:
            assert torch.equal(mine.segmentation, theirs.segmentation)
            assert torch.equal(mine.segmentation_scores, theirs.segmentation_scores)
        else:
            assert mine.dtype == theirs.dtype and torch.equal(mine, theirs)


def _decode(rles):
    if not rles:
        return None
    return torch.from_numpy(mask_utils.decode(rles).transpose(2, 0, 1).astype(np.float32))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=model_outputs(), threshold=st.sampled_from(THRESHOLDS), as_segformers=st.booleans())
def test_instance_matches(data, threshold, as_segformers):
    cls, masks, targets = data
    hf = hf_classes()["maskformer"]()
    ours_in = _ours_input(cls, masks, as_segformers)
    kw = dict(threshold=threshold, target_sizes=targets)
    for options in ({}, {"return_binary_maps": True}):
        ref = hf.post_process_instance_segmentation(hf_output(cls, masks), **kw, **options)
        ours = OURS.post_process_instance_segmentation(ours_in, **kw, **options)
        for mine, theirs in zip(ours, ref):
            event(f"segments found={len(theirs['segments_info']) > 0}")
            assert mine["segments_info"] == theirs["segments_info"]
            assert mine["segmentation"].dtype == theirs["segmentation"].dtype
            assert torch.equal(mine["segmentation"], theirs["segmentation"])
    # COCO RLE: ours is one pycocotools RLE per segment; decoded it gives the binary maps, and painted
    # in order it gives transformers' segmentation (whose per-value row-major runs we decode too)
    coco = OURS.post_process_instance_segmentation(ours_in, **kw, return_coco_annotation=True)
    maps = OURS.post_process_instance_segmentation(ours_in, **kw, return_binary_maps=True)
    ref = hf.post_process_instance_segmentation(hf_output(cls, masks), **kw, return_coco_annotation=True)
    for mine, binary, theirs in zip(coco, maps, ref):
        assert len(mine["segmentation"]) == len(mine["segments_info"])
        decoded = _decode(mine["segmentation"])
        if decoded is None:
            painted = torch.full(binary["segmentation"].shape[-2:], -1.0)
        else:
            assert torch.equal(decoded, binary["segmentation"])
            ids = torch.arange(decoded.shape[0], dtype=torch.float32)[:, None, None]
            painted = torch.where(decoded.bool(), ids, torch.tensor(-1.0)).amax(0)
            painted = torch.where(decoded.bool().any(0), painted, torch.tensor(-1.0))
        values = torch.unique(painted)
        assert len(theirs["segmentation"]) == len(values)
        for value, runs in zip(values, theirs["segmentation"]):
            expected = (painted == value).numpy()
            assert np.array_equal(decode_hf_runs(runs, expected.shape), expected)


def _fuse_reference(unfused: dict, fuse: set[int]) -> tuple[torch.Tensor, list[dict]]:
    """Fused result derived from the (transformers-identical) unfused one: segments of a fused label
    take the id of that label's first segment; ids stay consecutive; one info entry per id."""
    remap, first, infos, current = {0: 0}, {}, [], 0
    for seg in unfused["segments_info"]:
        label = seg["label_id"]
        if label in fuse and label in first:
            remap[seg["id"]] = first[label]
            continue
        current += 1
        remap[seg["id"]] = current
        infos.append({**seg, "id": current, "was_fused": label in fuse})
        if label in fuse:
            first[label] = current
    lut = torch.zeros(max(remap) + 1, dtype=torch.int32)
    for old, new in remap.items():
        lut[old] = new
    return lut[unfused["segmentation"].long()], infos


@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    data=model_outputs(), threshold=st.sampled_from(THRESHOLDS), mask_threshold=st.sampled_from([0.2, 0.5, 0.8]),
    overlap=st.sampled_from([0.0, 0.5, 0.8, 1.0]), fuse_mode=st.sampled_from(["all", "first", "odd"]),
    as_segformers=st.booleans(),
)
def test_panoptic_matches(data, threshold, mask_threshold, overlap, fuse_mode, as_segformers):
    cls, masks, targets = data
    labels_range = range(cls.shape[-1] - 1)
    fuse = {"all": set(labels_range), "first": {0}, "odd": {x for x in labels_range if x % 2}}[fuse_mode]
    kw = dict(threshold=threshold, mask_threshold=mask_threshold, overlap_mask_area_threshold=overlap, target_sizes=targets)
    hf = hf_classes()["maskformer"]()
    ours_in = _ours_input(cls, masks, as_segformers)
    unfused = OURS.post_process_panoptic_segmentation(ours_in, **kw)
    ref_unfused = hf.post_process_panoptic_segmentation(hf_output(cls, masks), **kw)
    for mine, theirs in zip(unfused, ref_unfused):
        assert mine["segments_info"] == theirs["segments_info"]
        assert mine["segmentation"].dtype == theirs["segmentation"].dtype
        assert torch.equal(mine["segmentation"], theirs["segmentation"])
    fused = OURS.post_process_panoptic_segmentation(ours_in, **kw, label_ids_to_fuse=fuse)
    ref_fused = hf.post_process_panoptic_segmentation(hf_output(cls, masks), **kw, label_ids_to_fuse=fuse)
    for mine, theirs, base in zip(fused, ref_fused, unfused):
        labels = [s["label_id"] for s in base["segments_info"]]
        sound = all(labels.count(label) <= 1 for label in fuse)
        event(f"fused labels with several segments={not sound}")
        if sound:  # transformers' fusion is only right when no fused label repeats
            assert mine["segments_info"] == theirs["segments_info"]
            assert torch.equal(mine["segmentation"], theirs["segmentation"])
            continue
        segmentation, infos = _fuse_reference(base, fuse)
        assert mine["segments_info"] == infos
        assert torch.equal(mine["segmentation"], segmentation)
        ids = [s["id"] for s in mine["segments_info"]]
        assert len(ids) == len(set(ids))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mask2former_reference_on_384_logits(seed):
    """transformers' Mask2Former post-processing equals ours where its 384x384 resize is a no-op."""
    cls, masks = _square_384(seed)
    hf = hf_classes()["mask2former"]()
    out = hf_output(cls, masks)
    for a, b in zip(OURS.post_process_semantic_segmentation(out), hf.post_process_semantic_segmentation(out)):
        assert torch.equal(a, b)
    for a, b in zip(
        OURS.post_process_instance_segmentation(out, threshold=0.1, return_binary_maps=True),
        hf.post_process_instance_segmentation(out, threshold=0.1, return_binary_maps=True),
    ):
        assert a["segments_info"] == b["segments_info"] and torch.equal(a["segmentation"], b["segmentation"])
    for a, b in zip(
        OURS.post_process_panoptic_segmentation(out, threshold=0.1, target_sizes=[(50, 70)]),
        hf.post_process_panoptic_segmentation(out, threshold=0.1, target_sizes=[(50, 70)]),
    ):
        assert a["segments_info"] == b["segments_info"] and torch.equal(a["segmentation"], b["segmentation"])


def _square_384(seed: int):
    g = torch.Generator().manual_seed(seed)
    cls = torch.randn(1, 6, 4, generator=g) * 3
    coarse = torch.randn(1, 6, 12, 12, generator=g) * 6
    return cls, torch.nn.functional.interpolate(coarse, size=(384, 384), mode="bilinear")
