"""The fast post-processing paths equal the one-piece computation and transformers, bit for bit.

``bilinear_argmax`` (the semantic argmax without the ``[K, H, W]`` resize), the nearest-resize source
indices (instance masks resized only for kept pairs) and the three processor tasks at realistic sizes:
many classes, confident queries with regions, logits of mixed sign, odd and mixed target sizes.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pycocotools import mask as mask_utils

from hf_processing_utils import hf_classes, hf_output
from segformers.models.postprocess.kernels import bilinear_argmax, nearest_source_index, semantic_scores
from segformers.processing import MaskFormerImageProcessor

OURS = MaskFormerImageProcessor()


def realistic(seed: int, b: int = 2, q: int = 100, k: int = 133, hw: tuple[int, int] = (32, 40), confident: int = 12):
    """Class logits ``[b, q, k+1]`` with ``confident`` sure queries per image whose masks split the image
    into soft-edged regions; the other queries lean to no-object and have mostly negative masks."""
    g = torch.Generator().manual_seed(seed)
    cls = torch.randn(b, q, k + 1, generator=g)
    cls[..., -1] += 3.0
    coarse = torch.randn(b, q, hw[0] // 4, hw[1] // 4, generator=g) * 3 - 4
    for i in range(b):
        picked = torch.randperm(q, generator=g)[:confident]
        cls[i, picked, torch.randint(0, k, (confident,), generator=g)] += 8.0
        cls[i, picked, -1] -= 3.0
        owner = torch.randn(confident, *coarse.shape[-2:], generator=g).argmax(0)
        region = owner[None] == torch.arange(confident)[:, None, None]
        coarse[i, picked] = torch.where(region, 5.0, -5.0) + 2 * torch.randn(region.shape, generator=g)
    masks = F.interpolate(coarse, size=hw, mode="bilinear", align_corners=False)
    return cls, masks + 0.5 * torch.randn(masks.shape, generator=g)


def one_piece(x: torch.Tensor, size, weights=None) -> torch.Tensor:
    resized = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    if weights is not None:
        resized = resized * weights[:, :, None, None]
    return resized.argmax(dim=1)


@pytest.mark.parametrize("seed, hw, size", [(0, (32, 40), (128, 160)), (1, (13, 17), (70, 81)),
                                            (2, (37, 29), (100, 203)), (3, (40, 40), (23, 131)),
                                            (4, (9, 64), (64, 65))])
def test_bilinear_argmax_equals_resize_then_argmax(seed, hw, size):
    cls, masks = realistic(seed, hw=hw)
    scores = semantic_scores(cls, masks)
    got = bilinear_argmax(scores, size)
    assert got is not None and got.dtype == torch.int64 and got.shape == (2, *size)
    assert torch.equal(got, one_piece(scores, size))


def test_bilinear_argmax_with_weights_and_ties():
    g = torch.Generator().manual_seed(5)
    x = F.interpolate(torch.rand(3, 7, 4, 3, generator=g), size=(11, 9), mode="bilinear")  # smooth
    x[:, 4] = x[:, 2]  # an exact tie everywhere: the first channel wins
    x[1, :, :3, :3] = 0.5  # a constant corner: every channel ties there
    weights = torch.rand(3, 7, generator=g)
    weights[:, 4] = weights[:, 2]
    for w in (None, weights):
        got = bilinear_argmax(x, (40, 97), w)
        assert got is not None and torch.equal(got, one_piece(x, (40, 97), w))
    assert torch.equal(bilinear_argmax(x[[0, 2]], (40, 97)), one_piece(x[[0, 2]], (40, 97)))
    assert bilinear_argmax(torch.rand(1, 7, 11, 9, generator=g), (40, 97)) is None  # noise: would not pay


def test_bilinear_argmax_declines_where_it_does_not_apply():
    x = torch.arange(5.0).view(1, 5, 1, 1).expand(1, 5, 8, 8).contiguous()  # channel 4 wins everywhere
    assert torch.equal(bilinear_argmax(x, (60, 90)), torch.full((1, 60, 90), 4))
    assert bilinear_argmax(x, (8, 8)) is None  # same size: no resize
    assert bilinear_argmax(x, (40, 60)) is None  # H + W <= 128: torch takes its other kernel
    assert bilinear_argmax(x[..., :1, :], (90, 90)) is None  # one input row
    assert bilinear_argmax(x.double(), (90, 90)) is None
    nan = x.clone()
    nan[0, 2, 3, 3] = float("nan")
    assert bilinear_argmax(nan, (90, 90)) is None


@pytest.mark.parametrize("n, size", [(7, 23), (24, 7), (13, 13), (5, 512), (128, 512), (100, 99), (3, 1)])
def test_nearest_source_index_is_torch_s(n, size):
    x = torch.arange(n * 3, dtype=torch.float32).view(1, 1, n, 3)
    ref = F.interpolate(x, size=(size, 3), mode="nearest")[0, 0, :, 0] / 3
    assert torch.equal(nearest_source_index(n, size, x.device), ref.long())


SIZES = [(96, 131), (57, 40)]  # up and down, odd


@pytest.mark.parametrize("seed", [0, 1])
def test_semantic_equals_transformers_at_realistic_sizes(seed):
    cls, masks = realistic(seed)
    ref = hf_classes()["maskformer"]().post_process_semantic_segmentation(hf_output(cls, masks), target_sizes=SIZES)
    ours = OURS.post_process_semantic_segmentation(hf_output(cls, masks), target_sizes=SIZES)
    for mine, theirs in zip(ours, ref):
        assert mine.dtype == theirs.dtype and torch.equal(mine, theirs)
    scored = OURS.post_process_semantic_segmentation(hf_output(cls, masks), SIZES, return_segmentation_scores=True)
    assert all(torch.equal(s.segmentation, r) for s, r in zip(scored, ref))


@pytest.mark.parametrize("threshold", [0.3, 0.5, 1.0])  # 1.0: no query kept
def test_instance_equals_transformers_at_realistic_sizes(threshold):
    cls, masks = realistic(2)
    hf = hf_classes()["maskformer"]()
    kw = dict(threshold=threshold, target_sizes=SIZES)
    for options in ({}, {"return_binary_maps": True}):
        ref = hf.post_process_instance_segmentation(hf_output(cls, masks), **kw, **options)
        ours = OURS.post_process_instance_segmentation(hf_output(cls, masks), **kw, **options)
        for mine, theirs in zip(ours, ref):
            assert mine["segments_info"] == theirs["segments_info"]
            assert (len(mine["segments_info"]) > 0) == (threshold < 1.0)
            assert mine["segmentation"].dtype == theirs["segmentation"].dtype
            assert torch.equal(mine["segmentation"], theirs["segmentation"])
    binary = OURS.post_process_instance_segmentation(hf_output(cls, masks), **kw, return_binary_maps=True)
    coco = OURS.post_process_instance_segmentation(hf_output(cls, masks), **kw, return_coco_annotation=True)
    for rles, maps in zip(coco, binary):
        if rles["segmentation"]:
            decoded = mask_utils.decode(rles["segmentation"]).transpose(2, 0, 1).astype(np.float32)
            assert torch.equal(torch.from_numpy(decoded), maps["segmentation"])


def test_instance_mask_lost_by_a_downsizing_resize_is_not_kept():
    cls = torch.full((1, 2, 3), -10.0)
    cls[0, :, 0] = 10.0
    masks = torch.full((1, 2, 9, 9), -5.0)
    masks[0, 0, 1, 1] = 5.0  # a row / column the 9 -> 4 nearest resize skips
    masks[0, 1, 4:, 4:] = 5.0
    kw = dict(threshold=0.1, target_sizes=[(4, 4)])
    ref = hf_classes()["maskformer"]().post_process_instance_segmentation(hf_output(cls, masks), **kw)[0]
    ours = OURS.post_process_instance_segmentation(hf_output(cls, masks), **kw)[0]
    assert ours["segments_info"] == ref["segments_info"] and len(ours["segments_info"]) == 1
    assert torch.equal(ours["segmentation"], ref["segmentation"])


@pytest.mark.parametrize("fuse_even", [False, True])
def test_panoptic_equals_transformers_at_realistic_sizes(fuse_even):
    cls, masks = realistic(3)
    hf = hf_classes()["maskformer"]()
    kw = dict(threshold=0.5, target_sizes=SIZES)
    unfused = hf.post_process_panoptic_segmentation(hf_output(cls, masks), **kw)
    labels = [s["label_id"] for r in unfused for s in r["segments_info"]]
    assert len(labels) > 10
    fuse = {x for x in range(0, 133, 2) if labels.count(x) <= 1} if fuse_even else None  # where transformers is sound
    ref = hf.post_process_panoptic_segmentation(hf_output(cls, masks), **kw, label_ids_to_fuse=fuse)
    ours = OURS.post_process_panoptic_segmentation(hf_output(cls, masks), **kw, label_ids_to_fuse=fuse)
    for mine, theirs in zip(ours, ref):
        assert mine["segments_info"] == theirs["segments_info"]
        assert torch.equal(mine["segmentation"], theirs["segmentation"])
    assert any(s["was_fused"] for r in ours for s in r["segments_info"]) == fuse_even
