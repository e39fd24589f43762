"""Post-processing behaviour: no fixed 384x384 resize, panoptic ids, COCO RLE, edge cases, errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from hf_processing_utils import hf_classes, hf_output
from segformers.processing import Mask2FormerImageProcessor, SemanticSegmentationResult, masks_to_coco_rle
from segformers.structures import SegmentationOutput

PROC = Mask2FormerImageProcessor()


def _random_outputs(seed=0, b=2, q=6, k=3, h=24, w=32):
    g = torch.Generator().manual_seed(seed)
    cls = torch.randn(b, q, k + 1, generator=g) * 3
    coarse = torch.randn(b, q, h // 4, w // 4, generator=g) * 6
    return SegmentationOutput(cls, torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear"))


def test_no_fixed_384_resize():
    out = _random_outputs()
    ref = hf_classes()["mask2former"]()
    hf_out = hf_output(out.class_queries_logits, out.masks_queries_logits)
    assert ref.post_process_semantic_segmentation(hf_out)[0].shape == (384, 384)  # the transformers fault
    assert PROC.post_process_semantic_segmentation(out)[0].shape == (24, 32)
    assert PROC.post_process_instance_segmentation(out, threshold=0.0)[0]["segmentation"].shape == (24, 32)
    assert PROC.post_process_panoptic_segmentation(out, threshold=0.0)[0]["segmentation"].shape == (24, 32)
    sized = PROC.post_process_semantic_segmentation(out, target_sizes=[(24, 32), (10, 7)])
    assert [tuple(s.shape) for s in sized] == [(24, 32), (10, 7)]
    direct = torch.einsum(
        "bqc,bqhw->bchw", out.class_queries_logits.softmax(-1)[..., :-1], out.masks_queries_logits.sigmoid()
    ).argmax(1)
    assert torch.equal(sized[0], direct[0])  # same-size target = no resampling at all
    detour = ref.post_process_semantic_segmentation(hf_out, target_sizes=[(24, 32), (10, 7)])
    assert not torch.equal(detour[0], direct[0])  # the 384 round trip changes pixels


def _four_strips():
    """Queries 0 and 2 predict class 0 (fused), 1 predicts class 1, 3 predicts class 2."""
    masks = torch.full((1, 4, 8, 12), -10.0)
    for q in range(4):
        masks[0, q, :6, 3 * q : 3 * q + 3] = 10.0
    cls = torch.full((1, 4, 4), -10.0)
    for q, label in enumerate([0, 1, 0, 2]):
        cls[0, q, label] = 10.0
    return cls, masks


def test_panoptic_fusion_gives_unique_ids():
    cls, masks = _four_strips()
    ref = hf_classes()["maskformer"]().post_process_panoptic_segmentation(hf_output(cls, masks), label_ids_to_fuse={0})[0]
    assert [s["id"] for s in ref["segments_info"]] == [1, 2, 1, 2]  # transformers: class 1 and 2 share id 2
    ours = PROC.post_process_panoptic_segmentation(SegmentationOutput(cls, masks), label_ids_to_fuse={0})[0]
    assert ours["segments_info"] == [
        {"id": 1, "label_id": 0, "was_fused": True, "score": 1.0},
        {"id": 2, "label_id": 1, "was_fused": False, "score": 1.0},
        {"id": 3, "label_id": 2, "was_fused": False, "score": 1.0},
    ]
    seg = ours["segmentation"]
    assert seg.dtype == torch.int32
    assert seg[0].tolist() == [1, 1, 1, 2, 2, 2, 1, 1, 1, 3, 3, 3]
    assert (seg[6:] == 1).all()  # unconfident pixels go to the argmax query (query 0), as in transformers
    unfused = PROC.post_process_panoptic_segmentation(SegmentationOutput(cls, masks))[0]
    assert [s["id"] for s in unfused["segments_info"]] == [1, 2, 3, 4]


def test_panoptic_area_ratio_compared_in_double_like_transformers():
    """A region covering exactly 4/5 of its mask: float32(0.8) > 0.8 in double, so it is kept."""
    masks = torch.full((1, 2, 1, 10), -10.0)
    masks[0, 0, 0, :5] = 10.0
    masks[0, 1, 0, 4:] = 10.0
    masks[0, 1, 0, 4] = 11.0  # pixel 4 goes to query 1: query 0 keeps 4 of its 5 pixels
    cls = torch.tensor([[[10.0, -10.0, -10.0], [-10.0, 10.0, -10.0]]])
    ref = hf_classes()["maskformer"]().post_process_panoptic_segmentation(hf_output(cls, masks), overlap_mask_area_threshold=0.8)
    ours = PROC.post_process_panoptic_segmentation(SegmentationOutput(cls, masks), overlap_mask_area_threshold=0.8)
    assert ours[0]["segments_info"] == ref[0]["segments_info"] and len(ours[0]["segments_info"]) == 2
    assert torch.equal(ours[0]["segmentation"], ref[0]["segmentation"])


def test_instance_coco_rle_is_pycocotools_format():
    cls, masks = _four_strips()
    masks[0, 1, :, :] = 10.0  # query 1 overlaps every other query
    out = SegmentationOutput(cls, masks)
    coco = PROC.post_process_instance_segmentation(out, threshold=0.5, return_coco_annotation=True)[0]
    binary = PROC.post_process_instance_segmentation(out, threshold=0.5, return_binary_maps=True)[0]
    assert len(coco["segmentation"]) == len(coco["segments_info"]) == 4
    json.dumps(coco["segmentation"])
    decoded = mask_utils.decode(coco["segmentation"]).transpose(2, 0, 1)
    assert np.array_equal(decoded, binary["segmentation"].numpy())  # overlaps kept, one mask per instance
    assert mask_utils.area(coco["segmentation"]).tolist() == binary["segmentation"].sum((1, 2)).int().tolist()
    none = PROC.post_process_instance_segmentation(out, threshold=1.1, return_coco_annotation=True)[0]
    assert none == {"segmentation": [], "segments_info": []}
    assert masks_to_coco_rle(torch.zeros(0, 3, 4, dtype=torch.bool)) == []


def test_instance_no_detection_and_binary_maps_shape():
    out = _random_outputs(b=1)
    plain = PROC.post_process_instance_segmentation(out, threshold=1.1, target_sizes=[(5, 9)])[0]
    assert plain["segments_info"] == [] and torch.equal(plain["segmentation"], torch.full((5, 9), -1.0))
    maps = PROC.post_process_instance_segmentation(out, threshold=1.1, return_binary_maps=True)[0]
    assert maps["segmentation"].shape == (24, 32)  # transformers' quirk, kept: the -1 map, not [0, H, W]
    found = PROC.post_process_instance_segmentation(out, threshold=0.0, return_binary_maps=True)[0]
    assert found["segmentation"].shape == (len(found["segments_info"]), 24, 32)
    assert set(torch.unique(found["segmentation"]).tolist()) <= {0.0, 1.0}


def test_semantic_scores_and_dict_outputs():
    out = _random_outputs()
    as_dict = {"class_queries_logits": out.class_queries_logits, "masks_queries_logits": out.masks_queries_logits}
    res = PROC.post_process_semantic_segmentation(as_dict, return_segmentation_scores=True)
    assert isinstance(res[0], SemanticSegmentationResult)
    assert res[0].segmentation_scores.shape == (3, 24, 32)
    assert torch.equal(res[0].segmentation, res[0].segmentation_scores.argmax(0))


def test_panoptic_empty_image():
    out = _random_outputs(b=1)
    res = PROC.post_process_panoptic_segmentation(out, threshold=1.0, target_sizes=[(7, 5)])[0]
    assert res["segments_info"] == [] and torch.equal(res["segmentation"], torch.full((7, 5), -1.0))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda o: PROC.post_process_instance_segmentation(o, return_coco_annotation=True, return_binary_maps=True),
         ValueError, "cannot both"),
        (lambda o: PROC.post_process_semantic_segmentation(o, target_sizes=[(4, 4)]), ValueError, "1 target_sizes"),
        (lambda o: PROC.post_process_panoptic_segmentation(o, target_sizes=[(4, 4), (0, 3)]), ValueError, "positive"),
        (lambda o: PROC.post_process_semantic_segmentation(torch.zeros(2, 3)), TypeError, "class_queries_logits"),
        (lambda o: PROC.post_process_semantic_segmentation(SegmentationOutput(torch.zeros(2, 3, 4), torch.zeros(2, 5, 4, 4))),
         ValueError, "same"),
    ],
)
def test_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(_random_outputs())
