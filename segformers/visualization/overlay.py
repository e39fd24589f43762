"""Overlay PNGs: results painted over the image in the dataset palette, with a legend of class names."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw


def palette_for(num_classes: int, palette: Optional[Sequence[Sequence[int]]] = None) -> np.ndarray:
    """``[K, 3]`` uint8 colours: the dataset palette, or a deterministic one when absent/short."""
    if palette is not None and len(palette) >= num_classes:
        return np.asarray(palette[:num_classes], dtype=np.uint8)
    rng = np.random.default_rng(0)
    return rng.integers(40, 256, size=(num_classes, 3), dtype=np.uint8)


def blend(image: np.ndarray, color: np.ndarray, valid: np.ndarray, alpha: float = 0.55,
          rows: int = 256) -> np.ndarray:
    """``image`` and ``color`` ``[H, W, 3]`` uint8 mixed where ``valid`` ``[H, W]`` is True, ``rows`` image rows
    at a time (the float32 work of one piece is ~0.6 GiB at 4000x3000; every pixel is computed alike)."""
    out = np.empty_like(image)
    for r0 in range(0, image.shape[0], rows):
        band = slice(r0, r0 + rows)
        part, ok = image[band].astype(np.float32), valid[band]
        part[ok] = (1 - alpha) * part[ok] + alpha * color[band][ok].astype(np.float32)
        out[band] = part.clip(0, 255).astype(np.uint8)
    return out


def draw_legend(image: np.ndarray, entries: Sequence[tuple[str, Sequence[int]]]) -> Image.Image:
    """Append a legend column (colour swatch + name per entry) to the right of ``image``."""
    row, pad = 14, 4
    width = 8 + max((len(name) for name, _ in entries), default=0) * 6 + 24
    height = max(image.shape[0], pad * 2 + row * len(entries))
    canvas = Image.new("RGB", (image.shape[1] + width, height), (255, 255, 255))
    canvas.paste(Image.fromarray(image), (0, 0))
    draw = ImageDraw.Draw(canvas)
    x0 = image.shape[1] + pad
    for i, (name, color) in enumerate(entries):
        y = pad + i * row
        draw.rectangle([x0, y + 1, x0 + 10, y + 11], fill=tuple(int(c) for c in color), outline=(0, 0, 0))
        draw.text((x0 + 16, y), name, fill=(0, 0, 0))
    return canvas


def semantic_overlay(image: np.ndarray, sem_seg: np.ndarray, classes: Sequence[str],
                     palette: np.ndarray, ignore_index: int = 255) -> Image.Image:
    """Class map ``[H, W]`` painted in the palette; the legend lists the classes present."""
    valid = (sem_seg >= 0) & (sem_seg < len(classes)) & (sem_seg != ignore_index)
    color = palette[np.where(valid, sem_seg, 0)]
    present = np.flatnonzero(np.bincount(sem_seg[valid].astype(np.int64), minlength=len(classes)))
    return draw_legend(blend(image, color, valid), [(classes[c], palette[c]) for c in present])


def panoptic_overlay(image: np.ndarray, pan_seg: np.ndarray, segments: Sequence[dict],
                     classes: Sequence[str], palette: np.ndarray) -> Image.Image:
    """Each segment in its class colour (things jittered per instance) with a dark outline."""
    color = np.zeros((*pan_seg.shape, 3), dtype=np.uint8)
    rng = np.random.default_rng(1)
    entries = []
    for seg in segments:
        base = palette[seg["category_id"]].astype(np.int32)
        if seg.get("isthing"):
            base = (base + rng.integers(-40, 41, size=3)).clip(0, 255)
        color[pan_seg == seg["id"]] = base
        entries.append((f"{seg['id']}: {classes[seg['category_id']]}", base))
    out = blend(image, color, pan_seg > 0)
    edges = np.zeros(pan_seg.shape, dtype=bool)
    edges[1:] |= pan_seg[1:] != pan_seg[:-1]
    edges[:, 1:] |= pan_seg[:, 1:] != pan_seg[:, :-1]
    out[edges] = 0
    return draw_legend(out, entries)


def instance_overlay(image: np.ndarray, instances: dict, classes: Sequence[str], palette: np.ndarray,
                     score_threshold: float = 0.5) -> Image.Image:
    """Instances above ``score_threshold``, lowest score painted first so the best stay on top."""
    scores = np.asarray(instances["scores"])
    order = [int(i) for i in np.argsort(scores) if scores[i] >= score_threshold]
    out = image.copy()
    entries = []
    for i in order:
        mask = np.asarray(instances["masks"][i], dtype=bool)
        label = int(instances["labels"][i])
        col = np.broadcast_to(palette[label], (*mask.shape, 3))
        out = blend(out, np.ascontiguousarray(col), mask)
        entries.append((f"{classes[label]} {scores[i]:.2f}", palette[label]))
    return draw_legend(out, entries[::-1])
