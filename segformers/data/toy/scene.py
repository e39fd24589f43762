"""A seeded random scene generator for the toy datasets (``tools/make_toy_dataset.py``).

A scene has 2-4 "stuff" regions (Voronoi cells with wavy borders), each drawn with the texture of
its class on a random base colour: the four stuff classes share one colour distribution and
differ by texture (stripes, checks, dots, grain). Two to seven "things" (disk, square, triangle,
cross; none in a few scenes) of random size, tilt (up to 15 degrees from upright) and colour
(independent of the class: only the shape tells it) are painted on top; half of them partly cover
an earlier one. A smooth-noise "void" blob (no class) and Gaussian noise make the task less
trivial. Some things are crowd regions.

Ground truth is one :class:`ToySegment` per visible segment (stuff merged per class, things per
instance, occluded parts removed); :meth:`ToyScene.sem_seg` / :meth:`ToyScene.pan_seg` render the
maps. Everything depends only on ``(seed, split, index)``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np
import pycocotools.mask as mask_util

TOY_STUFF = ("stripes", "checks", "dots", "grain")
TOY_THINGS = ("disk", "square", "triangle", "cross")
TOY_CLASSES = TOY_STUFF + TOY_THINGS
TOY_IS_THING = (False,) * len(TOY_STUFF) + (True,) * len(TOY_THINGS)
TOY_PALETTE = [
    [128, 64, 128], [70, 130, 180], [107, 142, 35], [152, 251, 152],
    [220, 20, 60], [0, 0, 142], [250, 170, 30], [119, 11, 32],
]  # fmt: skip
SPLITS = {"train": 1, "val": 2}
IGNORE_INDEX = 255
CROWD_PROB = 0.1
VOID_PROB = 0.6
NO_THING_PROB = 0.05
THINGS_PER_SCENE = (2, 7)  # inclusive range when the scene has things
THING_RADIUS = (0.1, 0.22)  # fraction of the short side
OVERLAP_PROB = 0.5
OVERLAP_DISTANCE = (0.9, 1.5)  # centre distance to the covered thing, in radii: partial cover
MAX_TILT = np.pi / 12  # things are upright up to +-15 degrees (as objects in photos mostly are)


@dataclass
class ToySegment:
    """One ground-truth segment.

    Args:
        id: segment id, unique in the scene, in ``[1, 2^24)``.
        label: contiguous class id in ``[0, 8)``.
        iscrowd: a crowd region (things only).
        mask: bool ``[H, W]`` visible pixels.
        polygon: the thing's outline ``[x0, y0, x1, y1, ...]`` when it is not occluded (then the
            polygon rasterized by pycocotools equals ``mask``); ``None`` otherwise.
    """

    id: int
    label: int
    iscrowd: bool
    mask: np.ndarray
    polygon: Optional[list[float]] = None

    @property
    def is_thing(self) -> bool:
        """Whether the segment's class is a thing."""
        return TOY_IS_THING[self.label]


@dataclass
class ToyScene:
    """An image ``uint8 [H, W, 3]`` with its segments (stuff first, then things in paint order)."""

    image: np.ndarray
    segments: list[ToySegment]
    void: np.ndarray

    def sem_seg(self, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
        """int32 ``[H, W]`` class map; void pixels are ``ignore_index`` (crowd keeps its class)."""
        out = np.full(self.void.shape, ignore_index, dtype=np.int32)
        for seg in self.segments:
            out[seg.mask] = seg.label
        return out

    def pan_seg(self) -> np.ndarray:
        """int32 ``[H, W]`` segment-id map, 0 = void."""
        out = np.zeros(self.void.shape, dtype=np.int32)
        for seg in self.segments:
            out[seg.mask] = seg.id
        return out


def _shape_polygon(kind: str, cy: float, cx: float, r: float, angle: float) -> list[float]:
    """Outline of a thing as ``[x0, y0, ...]`` (pixel coordinates, 2 decimals)."""
    if kind == "disk":
        t = np.linspace(0, 2 * np.pi, 32, endpoint=False)
        pts = np.stack([np.cos(t), np.sin(t)], 1)
    elif kind == "square":
        pts = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * 0.8
    elif kind == "triangle":
        t = np.array([0, 2, 4]) * np.pi / 3 - np.pi / 2
        pts = np.stack([np.cos(t), np.sin(t)], 1)
    else:  # cross: a plus sign with arms of half-width 0.33
        a, b = 1.0, 0.33
        pts = np.array([[-b, -a], [b, -a], [b, -b], [a, -b], [a, b], [b, b],
                        [b, a], [-b, a], [-b, b], [-a, b], [-a, -b], [-b, -b]])  # fmt: skip
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    xy = pts @ rot.T * r + np.array([cx, cy])
    return [round(float(v), 2) for v in xy.reshape(-1)]


def rasterize_polygon(polygon: list[float], h: int, w: int) -> np.ndarray:
    """bool ``[h, w]`` mask of a polygon, rasterized by pycocotools (as the COCO loaders do)."""
    return mask_util.decode(mask_util.merge(mask_util.frPyObjects([polygon], h, w))).astype(bool)


@functools.lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    y.flags.writeable = x.flags.writeable = False
    return y, x


def _texture(kind: str, y: np.ndarray, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A ``[-1, 1]`` texture of a stuff class at pixel coordinates ``y``, ``x`` (random phase / scale)."""
    if kind == "stripes":
        theta, period = rng.uniform(0, np.pi), rng.uniform(5, 8)
        phase = rng.uniform(0, 2 * np.pi)
        return np.sign(np.sin(2 * np.pi * (x * np.cos(theta) + y * np.sin(theta)) / period + phase))
    if kind == "checks":
        cell = int(rng.integers(4, 8))
        oy, ox = rng.integers(0, cell, 2)
        return (((y + oy) // cell + (x + ox) // cell) % 2) * 2.0 - 1.0
    if kind == "dots":
        step = rng.uniform(5, 8)
        dy, dx = (y + rng.uniform(0, step)) % step - step / 2, (x + rng.uniform(0, step)) % step - step / 2
        return np.where(dy**2 + dx**2 < (step / 3.5) ** 2, 1.0, -0.4)
    return rng.integers(0, 2, y.shape).astype(np.float32) * 2.0 - 1.0  # grain


def _smooth_noise(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth ``[-1, 1]`` blotches ``[h, w]`` (the void texture)."""
    coarse = rng.uniform(-1, 1, (4, 4)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)


def _stuff_layout(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """int ``[h, w]`` stuff class per pixel from 2-4 wavy Voronoi cells."""
    n = int(rng.integers(2, 5))
    seeds = rng.uniform(0, 1, (n, 2)) * [h, w]
    classes = rng.integers(0, len(TOY_STUFF), n)
    y, x = _grid(h, w)
    amp, freq = rng.uniform(2, 8), rng.uniform(0.05, 0.15)
    wy, wx = y + amp * np.sin(x * freq), x + amp * np.cos(y * freq)
    dist = (wy[None] - seeds[:, 0, None, None]) ** 2 + (wx[None] - seeds[:, 1, None, None]) ** 2
    return classes[np.argmin(dist, axis=0)]


def _void_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """An irregular blob (wobbly radius, so it does not look like a disk) or nothing."""
    if rng.random() >= VOID_PROB:
        return np.zeros((h, w), dtype=bool)
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    r0 = rng.uniform(0.06, 0.14) * min(h, w)
    p3, p5 = rng.uniform(0, 2 * np.pi, 2)
    out = np.zeros((h, w), dtype=bool)
    y0, y1 = max(int(cy - 1.6 * r0), 0), min(int(cy + 1.6 * r0) + 1, h)  # radius <= 1.6 r0
    x0, x1 = max(int(cx - 1.6 * r0), 0), min(int(cx + 1.6 * r0) + 1, w)
    y, x = _grid(h, w)
    y, x = y[y0:y1, x0:x1], x[y0:y1, x0:x1]
    theta = np.arctan2(y - cy, x - cx)
    radius = r0 * (1 + 0.35 * np.sin(3 * theta + p3) + 0.25 * np.sin(5 * theta + p5))
    out[y0:y1, x0:x1] = (y - cy) ** 2 + (x - cx) ** 2 <= radius**2
    return out


def _paint_stuff(img: np.ndarray, stuff: np.ndarray, void: np.ndarray, rng: np.random.Generator) -> None:
    h, w = stuff.shape
    y, x = _grid(h, w)
    for cls in _present(stuff):
        region = stuff == cls
        tex = _texture(TOY_STUFF[cls], y[region], x[region], rng)
        img[region] = rng.uniform(70, 190, 3) + rng.uniform(30, 50) * tex[:, None]
    if void.any():
        noise = _smooth_noise(h, w, rng)[void][:, None] * rng.uniform(-60, 60, 3)
        img[void] = rng.uniform(60, 200, 3) + noise


def _present(stuff: np.ndarray) -> list[int]:
    return np.flatnonzero(np.bincount(stuff.ravel(), minlength=len(TOY_STUFF))).tolist()


_Thing = tuple[int, bool, np.ndarray, list[float]]


def _place_things(img: np.ndarray, rng: np.random.Generator) -> list[_Thing]:
    """Paint the things; returns (label, iscrowd, full mask, polygon) in paint order."""
    h, w = img.shape[:2]
    things: list[_Thing] = []
    centers: list[np.ndarray] = []
    y, x = _grid(h, w)
    count = 0 if rng.random() < NO_THING_PROB else int(rng.integers(THINGS_PER_SCENE[0], THINGS_PER_SCENE[1] + 1))
    for _ in range(count):
        cls = int(rng.integers(len(TOY_THINGS)))
        r = rng.uniform(*THING_RADIUS) * min(h, w)
        if centers and rng.random() < OVERLAP_PROB:  # partly cover a previous thing
            angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(*OVERLAP_DISTANCE) * r
            cy, cx = centers[int(rng.integers(len(centers)))] + dist * np.array([np.sin(angle), np.cos(angle)])
        else:
            cy, cx = rng.uniform(r / 2, h - r / 2), rng.uniform(r / 2, w - r / 2)
        polygon = _shape_polygon(TOY_THINGS[cls], cy, cx, r, rng.uniform(-MAX_TILT, MAX_TILT))
        full = rasterize_polygon(polygon, h, w)
        if not full.any():
            continue
        gy, gx = rng.uniform(-0.3, 0.3, 2)
        shade = gy * (y[full] - cy) + gx * (x[full] - cx)
        img[full] = rng.uniform(0, 255, 3) + shade[:, None]
        things.append((len(TOY_STUFF) + cls, bool(rng.random() < CROWD_PROB), full, polygon))
        centers.append(np.array([cy, cx]))
    return things


def _unique_ids(n: int, rng: np.random.Generator) -> list[int]:
    while True:
        ids = rng.integers(1, 2**24, n)
        if len(set(ids.tolist())) == n:
            return ids.tolist()


def make_scene(
    index: int, split: str = "train", size: tuple[int, int] = (128, 128), seed: int = 0
) -> ToyScene:
    """The deterministic scene ``index`` of ``split`` (``train`` / ``val``) at ``size`` = (H, W)."""
    h, w = size
    rng = np.random.default_rng([seed, SPLITS[split], index])
    img = np.zeros((h, w, 3), dtype=np.float32)
    stuff, void = _stuff_layout(h, w, rng), _void_mask(h, w, rng)
    _paint_stuff(img, stuff, void, rng)
    things = _place_things(img, rng)
    img += 5 * rng.standard_normal(img.shape, dtype=np.float32)
    image = np.clip(np.round(img), 0, 255).astype(np.uint8)

    covered = np.zeros((h, w), dtype=bool)
    visible = []
    for label, crowd, full, polygon in reversed(things):
        vis = full & ~covered
        covered |= full
        if vis.any():
            visible.append((label, crowd, vis, polygon if vis.sum() == full.sum() else None))
    visible.reverse()
    parts = [(c, False, (stuff == c) & ~void & ~covered, None) for c in _present(stuff)]
    parts = [p for p in parts if p[2].any()] + visible
    ids = _unique_ids(len(parts), rng)
    segments = [ToySegment(i, lab, crowd, m, poly) for i, (lab, crowd, m, poly) in zip(ids, parts)]
    return ToyScene(image=image, segments=segments, void=void & ~covered)
