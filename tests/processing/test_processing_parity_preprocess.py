"""Randomized parity of ``preprocess`` with the transformers 5.23 processors (property-based).

transformers pads ``mask_labels`` with ``ignore_index`` (255 lands in the binary masks) and raises
with ``ignore_index=None`` when padding is needed; on those cases we compare the unpadded region and
assert that our padding is 0. Everything else must be identical (values and dtypes).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from hf_processing_utils import HAS_TORCHVISION, as_kind, hf_classes, map_as_kind
from segformers.processing import Mask2FormerImageProcessor, MaskFormerImageProcessor

IMAGE_KINDS = ["pil", "np_hwc", "np_chw", "np_float_hwc", "torch_chw", "torch_hwc"]
MAP_KINDS = ["pil", "np_uint8", "np_int64", "torch"]
SIZES = [
    {"shortest_edge": 16, "longest_edge": 40},
    {"shortest_edge": 24, "longest_edge": 1333},
    {"height": 20, "width": 28},
    {"max_height": 30, "max_width": 22},
]


def test_public_names_resolve_to_pil_classes():
    if HAS_TORCHVISION:
        pytest.skip("torchvision installed: the public names resolve to the torchvision processors")
    import transformers

    assert transformers.MaskFormerImageProcessor is hf_classes()["maskformer"]
    assert transformers.Mask2FormerImageProcessor is hf_classes()["mask2former"]


@st.composite
def cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(1, 3))
    same_size = draw(st.booleans())
    shapes = [(draw(st.integers(8, 40)), draw(st.integers(8, 40)))] * n if same_size else [
        (draw(st.integers(8, 40)), draw(st.integers(8, 40))) for _ in range(n)
    ]
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in shapes]
    kinds = [draw(st.sampled_from(IMAGE_KINDS)) for _ in range(n)]
    mode = draw(st.sampled_from(["none", "semantic", "instance_global", "instance_per_image"]))
    reduce = draw(st.booleans())
    ignore = draw(st.sampled_from([None, 255, 0, 3])) if not reduce else draw(st.sampled_from([255, 3]))
    empty_index = draw(st.integers(-1, n - 1))  # which image (if any) has no segment at all
    maps, id_maps = [], []
    special = 0 if reduce else ignore  # the value that marks "no segment" in the input maps
    for i, (h, w) in enumerate(shapes):
        seg = rng.integers(0, int(rng.integers(1, 7)), (h, w))
        if mode.startswith("instance"):
            seg = seg * 7 + 1
        if special is not None and rng.random() < 0.5:
            seg[rng.random((h, w)) < 0.2] = special
        if special is not None and i == empty_index:
            seg[:] = special
        if mode.startswith("instance"):
            id_maps.append({int(v): int(rng.integers(0, 5)) for v in np.unique(seg) if v != special})
        maps.append(seg)
    if mode == "instance_global":
        merged: dict[int, int] = {}
        for m in id_maps:
            merged.update(m)
        merged.update({k: int(rng.integers(0, 5)) for k in range(256) if k not in merged and rng.random() < 0.1})
        id_maps = merged
    kwargs = dict(
        do_resize=draw(st.booleans()),
        size=draw(st.sampled_from(SIZES)),
        size_divisor=draw(st.sampled_from([0, 8, 32])),
        resample=draw(st.sampled_from([Image.Resampling.NEAREST, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC])),
        do_rescale=draw(st.booleans()),
        do_normalize=draw(st.booleans()),
        ignore_index=ignore,
        do_reduce_labels=reduce,
    )
    if draw(st.booleans()):
        kwargs["pad_size"] = {"height": 200, "width": 200}
    map_kinds = [draw(st.sampled_from(MAP_KINDS)) for _ in range(n)]
    inputs = dict(
        images=[as_kind(im, k) for im, k in zip(images, kinds)],
        segmentation_maps=None if mode == "none" else [map_as_kind(m, k) for m, k in zip(maps, map_kinds)],
        instance_id_to_semantic_id=id_maps if mode.startswith("instance") else None,
    )
    return inputs, kwargs


def _hf_run(hf_cls, inputs, kwargs):
    try:
        return hf_cls(**kwargs)(**inputs, return_tensors="pt"), None
    except ValueError as err:
        return None, err


def _check_masks(ours, ref, pixel_mask, ignore_index):
    for i, (mine, theirs) in enumerate(zip(ours["mask_labels"], ref["mask_labels"])):
        assert mine.dtype == theirs.dtype == torch.float32
        assert set(torch.unique(mine).tolist()) <= {0.0, 1.0}
        valid = pixel_mask[i].bool()
        assert torch.equal(mine[:, valid], theirs[:, valid])
        assert not mine[:, ~valid].any()
        if (~valid).any() and mine.shape[0] > 0 and ignore_index not in (None, 0):
            # transformers writes ignore_index into the padded area of the binary masks
            assert (theirs[:, ~valid] == ignore_index).all()


@pytest.mark.parametrize("which", ["maskformer", "mask2former"])
@settings(
    max_examples=50, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases())
def test_preprocess_matches_transformers(which, case):
    inputs, kwargs = case
    ours_cls = MaskFormerImageProcessor if which == "maskformer" else Mask2FormerImageProcessor
    ours = ours_cls(**kwargs)(**inputs)
    ref, err = _hf_run(hf_classes()[which], inputs, kwargs)
    padded = not bool(ours["pixel_mask"].all())
    event(f"padded={padded}, transformers failed={err is not None}")
    if "mask_labels" in ours:
        event(f"an image without segments={any(m.shape[0] == 0 for m in ours['mask_labels'])}")
    if err is not None:
        # the known transformers failure: padding binary masks with ignore_index=None
        assert inputs["segmentation_maps"] is not None and kwargs["ignore_index"] is None and padded, err
        assert "Unsupported format: None" in str(err)
        for m in ours["mask_labels"]:
            assert set(torch.unique(m).tolist()) <= {0.0, 1.0}
        return
    assert ours["pixel_values"].dtype == ref["pixel_values"].dtype
    assert torch.equal(ours["pixel_values"], ref["pixel_values"])
    assert torch.equal(ours["pixel_mask"], ref["pixel_mask"])
    if inputs["segmentation_maps"] is None:
        assert "mask_labels" not in ours
        return
    assert len(ours["class_labels"]) == len(ref["class_labels"])
    for mine, theirs in zip(ours["class_labels"], ref["class_labels"]):
        assert mine.dtype == theirs.dtype == torch.int64
        assert torch.equal(mine, theirs)
    if not padded or kwargs["ignore_index"] == 0:
        for mine, theirs in zip(ours["mask_labels"], ref["mask_labels"]):
            assert torch.equal(mine, theirs)
    _check_masks(ours, ref, ours["pixel_mask"], kwargs["ignore_index"])


@settings(max_examples=15, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), return_tensors=st.sampled_from(["np", None]))
def test_numpy_outputs_match_transformers(seed, return_tensors):
    rng = np.random.default_rng(seed)
    images = [rng.integers(0, 256, (int(rng.integers(8, 30)), int(rng.integers(8, 30)), 3), dtype=np.uint8)]
    maps = [rng.integers(0, 4, im.shape[:2]) for im in images]
    kwargs = dict(size={"shortest_edge": 12, "longest_edge": 30}, ignore_index=255)
    ours = MaskFormerImageProcessor(**kwargs)(images, maps, return_tensors=return_tensors)
    ref = hf_classes()["maskformer"](**kwargs)(images, maps, return_tensors=return_tensors)
    for key in ("pixel_values", "pixel_mask"):
        assert type(ours[key]) is type(ref[key])
        np.testing.assert_array_equal(np.asarray(ours[key]), np.asarray(ref[key]))
    for key in ("mask_labels", "class_labels"):
        for mine, theirs in zip(ours[key], ref[key]):
            assert isinstance(mine, np.ndarray) and mine.dtype == theirs.dtype
            np.testing.assert_array_equal(mine, theirs)


def test_transformers_fault_binary_masks_get_ignore_index():
    """The fault we fix, pinned down: mixed sizes put 255 into transformers' binary masks."""
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 60, 3), dtype=np.uint8), rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)]
    maps = [rng.integers(0, 4, (40, 60)), rng.integers(0, 4, (64, 48))]
    ref = hf_classes()["mask2former"](do_resize=False, ignore_index=255)(images, maps, return_tensors="pt")
    ours = Mask2FormerImageProcessor(do_resize=False, ignore_index=255)(images, maps)
    assert int((ref["mask_labels"][0] == 255).sum()) == 4 * 24 * 60
    assert int((ref["mask_labels"][1] == 255).sum()) == 4 * 64 * 12
    for m in ours["mask_labels"]:
        assert set(torch.unique(m).tolist()) == {0.0, 1.0}
    with pytest.raises(ValueError, match="Unsupported format: None"):
        hf_classes()["mask2former"](do_resize=False)(images, maps, return_tensors="pt")
    ours = Mask2FormerImageProcessor(do_resize=False)(images, maps)
    assert [m.shape for m in ours["mask_labels"]] == [(4, 64, 60), (4, 64, 60)]
    assert not hasattr(hf_classes()["mask2former"], "encode_inputs")
