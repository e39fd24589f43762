"""Photometric transforms (image only; targets are untouched)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import cv2
import numpy as np

from segformers.registry import TRANSFORMS

from .base import RandomTransform


def _convert(img: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    return np.clip(img.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)


@TRANSFORMS.register_module()
class ColorAugSSD(RandomTransform):
    """SSD-style colour jitter of detectron2's PointRend ``ColorAugSSDTransform`` (``COLOR_AUG_SSD``).

    Works in BGR order like the original: brightness (p = 0.5, ``delta ~ U(-32, 32)``), then with
    p = 0.5 either contrast -> saturation -> hue or saturation -> hue -> contrast; contrast and
    saturation factors ``~ U(0.5, 1.5)`` and the OpenCV hue shift ``randint(-18, 18)`` (mod 180)
    each apply with p = 0.5; values are clipped to uint8 after every step.
    """

    def __init__(
        self,
        brightness_delta: float = 32,
        contrast_range: Sequence[float] = (0.5, 1.5),
        saturation_range: Sequence[float] = (0.5, 1.5),
        hue_delta: int = 18,
        seed: Optional[int] = None,
    ) -> None:
        super().__init__(seed)
        self.brightness_delta = brightness_delta
        self.contrast_range = tuple(contrast_range)
        self.saturation_range = tuple(saturation_range)
        self.hue_delta = hue_delta

    def _coin(self) -> bool:
        return bool(self.rng.randint(2))

    def _brightness(self, img: np.ndarray) -> np.ndarray:
        if self._coin():
            return _convert(img, beta=self.rng.uniform(-self.brightness_delta, self.brightness_delta))
        return img

    def _contrast(self, img: np.ndarray) -> np.ndarray:
        if self._coin():
            return _convert(img, alpha=self.rng.uniform(*self.contrast_range))
        return img

    def _saturation(self, img: np.ndarray) -> np.ndarray:
        if self._coin():
            hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
            hsv[:, :, 1] = _convert(hsv[:, :, 1], alpha=self.rng.uniform(*self.saturation_range))
            return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        return img

    def _hue(self, img: np.ndarray) -> np.ndarray:
        if self._coin():
            hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
            shift = int(self.rng.randint(-self.hue_delta, self.hue_delta + 1))
            hsv[:, :, 0] = ((hsv[:, :, 0].astype(int) + shift) % 180).astype(np.uint8)
            return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        return img

    def transform(self, results: dict) -> dict:
        img = np.ascontiguousarray(results["img"][:, :, ::-1])  # RGB -> BGR
        img = self._brightness(img)
        if self._coin():
            img = self._hue(self._saturation(self._contrast(img)))
        else:
            img = self._contrast(self._hue(self._saturation(img)))
        results["img"] = np.ascontiguousarray(img[:, :, ::-1])
        return results
