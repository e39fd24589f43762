"""Segmentation maps -> targets: a negative class id is refused naming the map (it would index the
classifier from its end); instance maps keep transformers' behaviour."""
from __future__ import annotations

import numpy as np
import pytest

from segformers.processing import MaskFormerImageProcessor
from segformers.processing.labels import segmentation_map_to_binary_masks

IMAGE = np.zeros((3, 8, 8), np.uint8)


def test_a_map_of_negative_ids_is_refused_naming_the_map_and_the_fix():
    seg = np.full((8, 8), -1)
    seg[:4] = 2
    processor = MaskFormerImageProcessor(do_resize=False)
    with pytest.raises(ValueError, match=r"segmentation_maps\[1\] gives negative class ids \[-1\] "
                                         r"\(ignore_index=None\).*ignore_index=-1"):
        processor([IMAGE, IMAGE], segmentation_maps=[np.zeros((8, 8), np.int64), seg])
    out = processor(IMAGE, segmentation_maps=seg, ignore_index=-1)  # marked as ignored: a valid target
    assert out["class_labels"][0].tolist() == [2]
    assert out["mask_labels"][0].shape == (1, 8, 8) and int(out["mask_labels"][0].sum()) == 32


def test_instance_maps_and_reduced_labels_are_unchanged():
    seg = np.array([[0, 1], [2, 2]])
    masks, classes = segmentation_map_to_binary_masks(seg, {1: 0, 2: 3}, ignore_index=255, do_reduce_labels=True)
    assert classes.tolist() == [-1, 2] and masks.shape == (2, 2, 2)  # as transformers hands them on
    masks, classes = segmentation_map_to_binary_masks(np.array([[0, 1]]), ignore_index=255, do_reduce_labels=True)
    assert classes.tolist() == [0] and masks.tolist() == [[[False, True]]]
