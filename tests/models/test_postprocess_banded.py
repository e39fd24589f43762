"""Post-processing in bands of rows (``MaskFormerInference(chunk_elements=...)``) gives the one-piece results:
the banded bilinear resize is bit-equal to ``F.interpolate``; semantic, panoptic and instance results are equal
(instance scores to float32 rounding: they are sums over all pixels, accumulated in another order)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from segformers.apis.inference import _result
from segformers.models.postprocess import MaskFormerInference
from segformers.models.postprocess.banded import BandedResize, band_ranges, kernel_rule, source_index
from segformers.structures import SegDataSample

REPO = Path(__file__).resolve().parents[2]


def one_piece(x: torch.Tensor, pad: tuple, crop: tuple, out: tuple) -> torch.Tensor:
    """What MaskFormerInference does in one piece: resize to ``pad``, crop, resize to ``out``."""
    if tuple(x.shape[-2:]) != pad:
        x = F.interpolate(x[None], size=pad, mode="bilinear", align_corners=False)[0]
    x = x[:, :crop[0], :crop[1]]
    return x if tuple(x.shape[-2:]) == out else F.interpolate(x[None], size=out, mode="bilinear",
                                                              align_corners=False)[0]


def test_this_torch_build_has_a_known_rounding_rule():
    assert kernel_rule() is not None  # otherwise every large image is resized in one piece (a warning says so)


def test_source_index_matches_torch_weights():
    """One-hot rows through F.interpolate read torch's own row weights back: they are source_index's."""
    h, out_h = 7, 151
    probe = F.interpolate(torch.eye(h)[None, :, :, None].expand(1, h, h, 3), size=(out_h, 3), mode="bilinear",
                          align_corners=False)[0, :, :, 0]  # [h, out_h]: weight of input row i in output row r
    i0, i1, w0, w1 = source_index(h, out_h, 0, out_h)
    r = torch.arange(out_h)
    two = i0 != i1  # the last input row serves as both neighbours at the bottom edge (weights summed)
    assert torch.equal(probe[i0[two], r[two]], w0[two]) and torch.equal(probe[i1[two], r[two]], w1[two])
    assert (i0[1:] >= i0[:-1]).all() and i1.max() == h - 1


@pytest.mark.parametrize("shape, pad, crop, out, rows", [
    ((5, 13, 17), (52, 68), (49, 61), (97, 123), 7),  # x4 then a non-integer factor
    ((3, 11, 9), (44, 36), (44, 36), (131, 67), 1),  # no crop, one row per band
    ((4, 20, 30), (20, 30), (19, 27), (150, 200), 16),  # no first resize
    ((6, 40, 48), (160, 192), (144, 192), (101, 140), 9),  # downscaling
    ((2, 9, 31), (9, 31), (9, 31), (9, 200), 3),  # rows unchanged, columns resized
])
def test_banded_resize_is_bit_equal_to_one_piece(shape, pad, crop, out, rows):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(sum(out))) * 6
    steps = ([(shape[1:], pad)] if tuple(shape[1:]) != pad else []) + [(crop, out)]
    banded = BandedResize(x, steps)
    got = torch.cat([banded.rows(r0, r1) for r0, r1 in band_ranges(out[0], 1, rows)], dim=1)
    assert torch.equal(got, one_piece(x, pad, crop, out))
    with pytest.raises(ValueError, match="0 <= r0 < r1"):
        banded.rows(0, out[0] + 1)


def test_banded_resize_falls_back_to_one_piece_where_torch_takes_its_other_kernel():
    """Small outputs (H + W <= 128) and, in a one-thread process, three channels: torch's channels-last
    kernel, which is computed whole and sliced."""
    x = torch.randn(3, 10, 12, generator=torch.Generator().manual_seed(1))
    threads = torch.get_num_threads()
    try:
        for n_threads, out in ((threads, (50, 60)), (1, (150, 170))):
            torch.set_num_threads(n_threads)
            banded = BandedResize(x, [((10, 12), out)])
            got = torch.cat([banded.rows(r0, r1) for r0, r1 in band_ranges(out[0], 1, 11)], dim=1)
            assert torch.equal(got, one_piece(x, (10, 12), (10, 12), out))
    finally:
        torch.set_num_threads(threads)


def _logits(seed: int, q: int = 12, k: int = 6, hw: tuple = (13, 17)) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(q, k + 1, generator=gen) * 3, torch.randn(q, *hw, generator=gen) * 4


def _assert_same(got: dict, ref: dict) -> None:
    if "sem_seg" in ref:
        assert got["sem_seg"].shape == ref["sem_seg"].shape[1:] and got["sem_seg"].dtype == torch.int64
        assert torch.equal(got["sem_seg"], ref["sem_seg"].argmax(0))
    if "panoptic_seg" in ref:
        assert torch.equal(got["panoptic_seg"][0], ref["panoptic_seg"][0])
        assert got["panoptic_seg"][1] == ref["panoptic_seg"][1]
    if "instances" in ref:
        g, r = got["instances"], ref["instances"]
        for key in ("masks", "labels", "query_ids", "boxes"):
            assert torch.equal(g[key], r[key]), key
        torch.testing.assert_close(g["scores"], r["scores"], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("nms", [None, 2.0])
def test_chunked_equals_one_piece_for_a_batch_of_two_sizes(nms):
    """As MaskFormer.predict calls it: one padded batch size, each image its own img/ori size; a tiny
    chunk_elements forces bands of one to a few rows."""
    kw = dict(semantic_on=True, panoptic_on=True, instance_on=True, topk_per_image=20, thing_ids=[0, 2, 3],
              object_mask_threshold=0.3, overlap_threshold=0.5, instance_matrix_nms_sigma=nms)
    segments = 0
    for seed, (img, ori) in enumerate((((49, 61), (97, 123)), ((52, 40), (131, 101)))):
        cls, low = _logits(seed)
        meta = {"batch_input_shape": (52, 68), "img_shape": img, "ori_shape": ori}
        ref = MaskFormerInference(**kw, chunk_elements=0)(cls, low, meta)
        for chunk in (500, 20 * ori[1] * 3 + 7):
            _assert_same(MaskFormerInference(**kw, chunk_elements=chunk)(cls, low, meta), ref)
        segments += len(ref["panoptic_seg"][1])
    assert segments >= 2  # the panoptic comparison compared segments, not two empty maps


def test_chunked_semantic_only_resizes_the_scores_in_bands():
    """postprocess_before_inference off (semantic configs): scores at the padded size, resized in bands."""
    cls, low = _logits(3, q=10, k=5)
    meta = {"batch_input_shape": (52, 68), "img_shape": (47, 66), "ori_shape": (141, 199)}
    ref = MaskFormerInference(semantic_on=True, chunk_elements=0)(cls, low, meta)
    got = MaskFormerInference(semantic_on=True, chunk_elements=999)(cls, low, meta)
    _assert_same(got, ref)
    small = MaskFormerInference(semantic_on=True)(cls, low, meta)  # default 2**23: this image is one piece
    assert torch.equal(small["sem_seg"], ref["sem_seg"])


def test_no_kept_query_gives_an_empty_panoptic_map_and_no_instance_of_a_stuff_class():
    cls, low = _logits(4)
    meta = {"batch_input_shape": (52, 68), "img_shape": (52, 68), "ori_shape": (100, 130)}
    kw = dict(semantic_on=False, panoptic_on=True, instance_on=True, topk_per_image=5, thing_ids=[],
              object_mask_threshold=1.0)
    ref = MaskFormerInference(**kw, chunk_elements=0)(cls, low, meta)
    got = MaskFormerInference(**kw, chunk_elements=100)(cls, low, meta)
    assert got["panoptic_seg"][1] == [] and not got["panoptic_seg"][0].any()
    assert got["instances"]["masks"].shape == (0, 100, 130)
    _assert_same(got, ref)


def test_bf16_logits_are_resized_to_the_padded_size_in_their_dtype_as_the_one_piece_code():
    cls, low = _logits(5)
    low = low.bfloat16()
    meta = {"batch_input_shape": (52, 68), "img_shape": (50, 60), "ori_shape": (120, 150)}
    kw = dict(semantic_on=True, panoptic_on=True, thing_ids=[1], object_mask_threshold=0.2)
    _assert_same(MaskFormerInference(**kw, chunk_elements=300)(cls, low, meta),
                 MaskFormerInference(**kw, chunk_elements=0)(cls, low, meta))


@pytest.mark.parametrize("bad", [-1, 1.5, True, "8"])
def test_chunk_elements_must_be_a_non_negative_int(bad):
    with pytest.raises(ValueError, match="chunk_elements must be an int >= 0"):
        MaskFormerInference(chunk_elements=bad)


def test_inference_result_passes_a_label_map_through():
    labels = torch.tensor([[0, 2], [1, 1]])
    sample = SegDataSample()
    sample.pred = {"sem_seg": labels}
    assert torch.equal(_result(sample)["sem_seg"], labels)
    sample.pred = {"sem_seg": F.one_hot(labels, 3).permute(2, 0, 1).float()}  # [K, H, W] scores
    assert torch.equal(_result(sample)["sem_seg"], labels)


def _load_infer():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("segformers_tools_infer_banded", REPO / "tools" / "infer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_infer_tool_writes_the_same_files_chunked_and_in_one_piece(tmp_path, monkeypatch):
    from segformers.apis.model import build_model, load_config
    from tests.engine.toy_train_probes import M2F, tiny_overrides, write_tiny_config

    overrides = tiny_overrides(str(tmp_path), True, 1)
    del overrides["custom_imports"]
    overrides["model"]["postprocessor"] = dict(topk_per_image=10, object_mask_threshold=0.0)
    config = write_tiny_config(str(tmp_path / "tiny.py"), M2F, overrides)
    torch.manual_seed(0)
    torch.save({"state_dict": build_model(load_config(config)).state_dict()}, tmp_path / "tiny.pth")
    image = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 133, 3), dtype=np.uint8)).save(image)
    infer = _load_infer()
    bands = []
    rows = BandedResize.rows
    monkeypatch.setattr(BandedResize, "rows", lambda self, r0, r1: bands.append(self.out_hw) or rows(self, r0, r1))
    for name, chunk in (("one", "0"), ("bands", "3000")):
        args = [config, str(tmp_path / "tiny.pth"), str(image), "--out", str(tmp_path / name)]
        assert infer.main(args + ["--chunk-elements", chunk]) == 0
        # 3000 values a band: 2 rows of 10 maps (queries, top-10 instances) x 133 pixels
        assert bands.count((90, 133)) == (0 if chunk == "0" else 45)
    for png in ("photo_sem_seg.png", "photo_pan_seg.png", "photo_semantic.png", "photo_instances.png"):
        assert np.array_equal(np.asarray(Image.open(tmp_path / "one" / png)),
                              np.asarray(Image.open(tmp_path / "bands" / png))), png
    one, bands = (json.loads((tmp_path / d / "photo.json").read_text()) for d in ("one", "bands"))
    assert one["segments_info"] == bands["segments_info"]
    assert [i["mask_rle"] for i in one["instances"]] == [i["mask_rle"] for i in bands["instances"]]
    assert one["instances"] and one["segments_info"]
    np.testing.assert_allclose([i["score"] for i in bands["instances"]], [i["score"] for i in one["instances"]],
                               rtol=1e-6, atol=1e-7)
    with pytest.raises(SystemExit):
        infer.main([config, str(tmp_path / "tiny.pth"), str(image), "--out", str(tmp_path), "--chunk-elements", "-1"])


def test_overlay_blend_in_bands_is_the_one_piece_picture():
    from segformers.visualization import semantic_overlay
    from segformers.visualization.overlay import blend

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (37, 29, 3), dtype=np.uint8)
    sem = rng.integers(0, 6, (37, 29))
    sem[:5] = 255  # ignored
    classes, palette = ["a", "b", "c", "d", "e"], rng.integers(0, 256, (5, 3), dtype=np.uint8)  # 5 ids out of range
    valid = (sem < len(classes))
    color = palette[np.where(valid, sem, 0)]
    ref = image.astype(np.float32)  # the one-piece blend, by hand
    ref[valid] = (1 - 0.55) * ref[valid] + 0.55 * color[valid].astype(np.float32)
    ref = ref.clip(0, 255).astype(np.uint8)
    assert np.array_equal(blend(image, color, valid, rows=4), ref)
    picture = np.asarray(semantic_overlay(image, sem, classes, palette))
    assert np.array_equal(picture[: image.shape[0], : image.shape[1]], ref)


@pytest.mark.parametrize("chunk", [0, 400])
def test_instance_masks_by_query_give_each_instance_its_mask(chunk):
    cls, low = _logits(6, q=5, k=4)
    meta = {"batch_input_shape": (52, 68), "img_shape": (52, 68), "ori_shape": (90, 110)}
    kw = dict(semantic_on=False, instance_on=True, topk_per_image=12, instance_matrix_nms_sigma=2.0)
    dense = MaskFormerInference(**kw, chunk_elements=0)(cls, low, meta)["instances"]
    by_query = MaskFormerInference(**kw, chunk_elements=chunk, instance_masks="by_query")(cls, low, meta)["instances"]
    assert "masks" not in by_query and list(by_query) == ["scores", "labels", "query_masks", "mask_index", "boxes",
                                                           "query_ids"]
    assert len(by_query["query_masks"]) == len(torch.unique(dense["query_ids"])) < len(dense["query_ids"])
    assert torch.equal(by_query["query_masks"][by_query["mask_index"]], dense["masks"])
    torch.testing.assert_close(by_query["scores"], dense["scores"], rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="instance_masks must be 'dense' or 'by_query'"):
        MaskFormerInference(instance_masks="sparse")


def test_first_argmax_is_argmax_with_ties_and_nan():
    from segformers.models.postprocess.kernels import first_argmax

    x = torch.randint(0, 3, (6, 9, 41), generator=torch.Generator().manual_seed(2)).float()  # many ties
    x[0, 0, :5] = float("nan")
    x[3, 2, 7:20] = float("nan")
    assert torch.equal(first_argmax(x), x.argmax(0))
