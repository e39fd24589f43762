"""Property-based alignment tests: geometric transforms never separate a pixel from its labels.

The input's panoptic map encodes every pixel's coordinates (``y * W + x + 1``), so after any chain
of geometric transforms each output pixel names the input pixel it came from (0 = padding). Its
semantic label and mask bits must be that pixel's; padding must hold the ignore / pad values; no
label value may appear that was not in the input; and the image (a coordinate ramp) must agree.
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segformers.registry import TRANSFORMS

IGNORE = 255
RESIZES = ("ResizeShortestEdge", "ResizeScale")


@st.composite
def transform_cfg(draw) -> dict:
    kind = draw(st.sampled_from(RESIZES + ("FixedSizeCrop", "RandomCrop", "RandomFlip", "Pad")))
    seed = draw(st.integers(0, 2**31 - 1))
    size = st.integers(1, 64)
    if kind == "ResizeShortestEdge":
        lengths = draw(st.lists(st.integers(1, 60), min_size=1, max_size=4))
        return dict(type=kind, short_edge_length=lengths, max_size=draw(st.integers(max(lengths), 120)),
                    sample_style="choice", seed=seed)
    if kind == "ResizeScale":
        lo = draw(st.floats(0.1, 1.0))
        return dict(type=kind, min_scale=lo, max_scale=draw(st.floats(lo, 2.0)),
                    target_size=(draw(size), draw(size)), seed=seed)
    if kind == "FixedSizeCrop":
        return dict(type=kind, crop_size=(draw(size), draw(size)), seed=seed)
    if kind == "RandomCrop":
        return dict(type=kind, crop_size=(draw(size), draw(size)), seed=seed,
                    single_category_max_area=draw(st.sampled_from([1.0, 0.7])))
    if kind == "RandomFlip":
        return dict(type=kind, prob=draw(st.sampled_from([0.0, 0.5, 1.0])),
                    direction=draw(st.sampled_from(["horizontal", "vertical"])), seed=seed)
    return dict(type="Pad", size_divisor=draw(st.integers(1, 16)))


@st.composite
def cases(draw):
    h, w = draw(st.integers(2, 40)), draw(st.integers(2, 40))
    n = draw(st.integers(1, 4))
    steps = [draw(transform_cfg()) for _ in range(n)]
    return h, w, steps, draw(st.integers(0, 2**31 - 1))


def inputs(h: int, w: int, seed: int) -> dict:
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.RandomState(seed)
    sem = rng.choice(np.array([0, 1, 2, 3, IGNORE], dtype=np.int32), size=(h, w))
    img = np.stack([x * 5, y * 5, np.full_like(x, 60)], -1).astype(np.uint8)  # ramps: 5 units per pixel
    return dict(img=img, img_shape=(h, w), ori_shape=(h, w), gt_sem_seg=sem, ignore_index=IGNORE,
                gt_pan_seg=(y * w + x + 1).astype(np.int32), gt_masks=np.stack([sem == k for k in range(4)]),
                gt_labels=np.arange(4), gt_seg_ids=np.arange(4) + 1)


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_geometric_chains_keep_pixels_and_labels_together(case):
    h, w, steps, seed = case
    src = inputs(h, w, seed)
    out = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in src.items()}
    for cfg in steps:
        out = TRANSFORMS.build(cfg)(out)

    pan, sem, masks, img = out["gt_pan_seg"], out["gt_sem_seg"], out["gt_masks"], out["img"]
    oh, ow = img.shape[:2]
    assert pan.shape == sem.shape == masks.shape[1:] == (oh, ow) and out["img_shape"] == (oh, ow)
    pad = pan == 0
    assert (sem[pad] == IGNORE).all() and not masks[:, pad].any()
    types = [cfg["type"] for cfg in steps]
    padded = [i for i, t in enumerate(types) if t in ("Pad", "FixedSizeCrop")]
    # a resize after padding blends the pad value into the image (real pipelines pad last)
    image_checks = not any(t in RESIZES for t in types[padded[0]:]) if padded else True
    if image_checks:
        assert (img[pad] == 128).all()

    sy, sx = (pan[~pad] - 1) // w, (pan[~pad] - 1) % w
    assert (sy < h).all() and (sx < w).all()
    assert np.array_equal(sem[~pad], src["gt_sem_seg"][sy, sx])  # a label comes from its source pixel
    assert np.array_equal(masks[:, ~pad], src["gt_masks"][:, sy, sx])
    assert set(np.unique(sem).tolist()) <= set(np.unique(src["gt_sem_seg"]).tolist()) | {IGNORE}

    # the geometry is separable: an output row has one source row, an output column one source column
    rows, cols = np.nonzero(~pad)
    for line, coord in ((rows, sy), (cols, sx)):
        first = {}
        for k, c in zip(line.tolist(), coord.tolist()):
            assert first.setdefault(k, c) == c

    n_resizes = sum(t in RESIZES for t in types)
    if image_checks and n_resizes <= 1:
        _check_image_alignment(img, pad, sy, sx, (h, w), out.get("scale_factor", (1.0, 1.0)), exact=n_resizes == 0)


def _check_image_alignment(img, pad, sy, sx, in_hw, scale_xy, exact: bool) -> None:
    """The image ramp agrees with the labels' source coordinates: exactly without a resize, within
    one source pixel (bilinear vs nearest) away from the borders after one."""
    red, green = img[..., 0][~pad].astype(float) / 5, img[..., 1][~pad].astype(float) / 5
    if exact:
        assert np.array_equal(red, sx) and np.array_equal(green, sy)
        return
    (h, w), (scale_x, scale_y) = in_hw, scale_xy
    my, mx = max(1.0, 1 / scale_y) + 1, max(1.0, 1 / scale_x) + 1  # the bilinear window near borders
    inner = (sy >= my) & (sy <= h - 1 - my) & (sx >= mx) & (sx <= w - 1 - mx)
    assert (np.abs(red[inner] - sx[inner]) <= 1.2).all() and (np.abs(green[inner] - sy[inner]) <= 1.2).all()
