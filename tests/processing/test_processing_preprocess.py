"""``preprocess`` / ``encode_inputs`` behaviour: size rules, binary masks, fixed faults, errors."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from hf_processing_utils import hf_classes
from segformers.processing import Mask2FormerImageProcessor, MaskFormerImageProcessor, ProcessorOutput
from segformers.processing.transforms import resized_shape


def _images_and_maps(seed=0, shapes=((40, 60), (64, 48)), num_ids=4):
    rng = np.random.default_rng(seed)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in shapes]
    maps = [rng.integers(0, num_ids, (h, w)) for h, w in shapes]
    return images, maps


@pytest.mark.parametrize("name", ["maskformer", "mask2former"])
def test_defaults_match_transformers(name):
    ours = (MaskFormerImageProcessor if name == "maskformer" else Mask2FormerImageProcessor)()
    ref = hf_classes()[name]()
    assert ours.size == dict(ref.size) == {"shortest_edge": 800, "longest_edge": 1333}
    assert (ours.size_divisor, ours.resample, ours.ignore_index) == (ref.size_divisor, int(ref.resample), ref.ignore_index)
    assert (ours.do_resize, ours.do_rescale, ours.do_normalize, ours.do_reduce_labels) == (True, True, True, False)
    assert ours.rescale_factor == ref.rescale_factor
    assert list(ours.image_mean) == list(ref.image_mean) and list(ours.image_std) == list(ref.image_std)
    assert ours.num_labels is None and ours.pad_size is None


@settings(max_examples=200, deadline=None, derandomize=True)
@given(h=st.integers(1, 3000), w=st.integers(1, 3000), short=st.integers(1, 1000), extra=st.integers(0, 2000),
       divisor=st.sampled_from([0, 1, 8, 32]))
def test_resized_shape_follows_transformers(h, w, short, extra, divisor):
    """Shortest/longest edge rule and the round-up to ``size_divisor`` of transformers' resize."""
    import math

    from transformers.image_transforms import get_size_with_aspect_ratio

    oh, ow = get_size_with_aspect_ratio((h, w), short, short + extra)
    if oh <= 0 or ow <= 0:
        return
    if divisor:
        oh, ow = math.ceil(oh / divisor) * divisor, math.ceil(ow / divisor) * divisor
    assert resized_shape(h, w, {"shortest_edge": short, "longest_edge": short + extra}, divisor) == (oh, ow)


def test_size_forms_and_known_shapes():
    assert resized_shape(480, 640, {"shortest_edge": 800, "longest_edge": 1333}, 32) == (800, 1088)
    assert resized_shape(480, 640, {"shortest_edge": 800, "longest_edge": 1333}, 0) == (800, 1066)
    assert resized_shape(100, 400, {"shortest_edge": 800, "longest_edge": 1333}, 0) == (333, 1333)
    assert resized_shape(480, 640, {"shortest_edge": 240}, 0) == (240, 320)
    assert resized_shape(40, 50, {"height": 40, "width": 50}, 32) == (64, 64)
    assert resized_shape(100, 200, {"max_height": 50, "max_width": 50}, 0) == (25, 50)
    assert MaskFormerImageProcessor(size=384).size == {"shortest_edge": 384}
    assert MaskFormerImageProcessor(size=384, max_size=600).size == {"shortest_edge": 384, "longest_edge": 600}
    assert MaskFormerImageProcessor(max_size=600).size == {"shortest_edge": 800, "longest_edge": 600}
    assert MaskFormerImageProcessor(size=(40, 50)).size == {"height": 40, "width": 50}
    out = MaskFormerImageProcessor(size=24)(np.zeros((30, 60, 3), np.uint8))  # shortest edge only
    assert tuple(out["pixel_values"].shape) == (1, 3, 32, 64)


def test_binary_masks_stay_binary_and_padding_is_background():
    images, maps = _images_and_maps()
    for ignore in (None, 255):
        out = Mask2FormerImageProcessor(do_resize=False, ignore_index=ignore)(images, maps)
        assert tuple(out["pixel_values"].shape) == (2, 3, 64, 60)
        for i, masks in enumerate(out["mask_labels"]):
            assert masks.dtype == torch.float32 and set(torch.unique(masks).tolist()) == {0.0, 1.0}
            valid = out["pixel_mask"][i].bool()
            assert not masks[:, ~valid].any()
            assert torch.equal(masks.sum(0)[valid], torch.ones(int(valid.sum())))  # a partition of the image
            assert torch.equal(out["class_labels"][i], torch.arange(4))
    out = Mask2FormerImageProcessor(do_resize=False, pad_size={"height": 80, "width": 80})(images[:1], maps[:1])
    assert out["mask_labels"][0].shape == (4, 80, 80) and out["mask_labels"][0][:, 40:].sum() == 0


def test_ignore_reduce_and_instance_maps():
    seg = np.array([[0, 1, 1], [2, 255, 2]])
    proc = MaskFormerImageProcessor(do_resize=False, do_normalize=False, ignore_index=255)
    out = proc(np.zeros((2, 3, 3), np.uint8), seg)
    assert out["class_labels"][0].tolist() == [0, 1, 2]
    out = proc(np.zeros((2, 3, 3), np.uint8), seg, do_reduce_labels=True)
    assert out["class_labels"][0].tolist() == [0, 1, 254]  # 0 -> ignored, the rest shifted down by one
    inst = np.array([[5, 5, 9], [9, 0, 7]])
    out = proc([np.zeros((2, 3, 3), np.uint8)] * 2, [inst, inst], [{0: 3, 5: 1, 7: 2, 9: 1}, {0: 0, 5: 4, 7: 4, 9: 4}])
    assert out["class_labels"][0].tolist() == [3, 1, 2, 1] and out["class_labels"][1].tolist() == [0, 4, 4, 4]
    assert out["mask_labels"][0][1].tolist() == [[1, 1, 0], [0, 0, 0]]
    out = proc(np.zeros((2, 3, 3), np.uint8), inst, {5: 1, 7: 2, 9: 3}, do_reduce_labels=True)
    assert out["class_labels"][0].tolist() == [0, 1, 2]  # instance 0 ignored, classes shifted down
    empty = proc(np.zeros((2, 3, 3), np.uint8), np.full((2, 3), 255))
    assert empty["mask_labels"][0].shape == (0, 2, 3) and empty["class_labels"][0].shape == (0,)


def test_encode_inputs_pads_prepared_images():
    images, maps = _images_and_maps()
    chw = [torch.from_numpy(im.transpose(2, 0, 1).astype(np.float32) / 7) for im in images]
    proc = MaskFormerImageProcessor(ignore_index=255)
    out = proc.encode_inputs(chw, maps)
    ref = proc(images, maps, do_resize=False, do_rescale=False, do_normalize=False)
    assert torch.equal(out["pixel_mask"], ref["pixel_mask"])
    assert torch.equal(out["pixel_values"][0, :, :40, :60], chw[0]) and out["pixel_values"][0, :, 40:].abs().sum() == 0
    for a, b in zip(out["mask_labels"] + out["class_labels"], ref["mask_labels"] + ref["class_labels"]):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="must have their image's height and width"):
        proc.encode_inputs(chw, [maps[1], maps[0]])


def test_large_and_negative_instance_ids_resize_like_small_ids():
    rng = np.random.default_rng(1)
    small = rng.integers(0, 6, (37, 53))
    image = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    proc = MaskFormerImageProcessor(size={"shortest_edge": 20, "longest_edge": 60})
    ref = proc(image, small)
    for ids in (np.array([-3, 1000, 70000, 255, 256, 1_000_000]),):
        out = proc(image, ids[small], {int(i): j for j, i in enumerate(ids)})
        order = np.argsort(ids)
        assert torch.equal(out["mask_labels"][0], ref["mask_labels"][0][torch.from_numpy(order)])
        assert out["class_labels"][0].tolist() == order.tolist()


def test_float_images_are_resized_without_quantization():
    rng = np.random.default_rng(2)
    image = rng.random((3, 30, 50)).astype(np.float32)
    proc = MaskFormerImageProcessor(size={"shortest_edge": 20, "longest_edge": 60}, do_rescale=False, do_normalize=False)
    out = proc(image)["pixel_values"][0]
    assert out.dtype == torch.float32
    as_uint8 = proc((image * 255).round().astype(np.uint8))["pixel_values"][0].float() / 255
    assert (out - as_uint8).abs().max() < 3 / 255
    flat = proc(np.full((3, 30, 50), 0.3, np.float32))["pixel_values"][0]
    assert torch.allclose(flat, torch.full_like(flat, 0.3), atol=1e-6)  # no uint8 truncation
    wide = proc(rng.normal(0, 1000, (3, 30, 50)))  # values far outside [0, 255] are fine too
    assert wide["pixel_values"].dtype == torch.float32


@pytest.mark.parametrize("mode", ["L", "RGBA", "LA", "np_RGBA", "np_grey_chw"])
def test_convert_rgb_matches_transformers(mode):
    rng = np.random.default_rng(3)
    channels = {"L": 1, "RGBA": 4, "LA": 2, "np_RGBA": 4, "np_grey_chw": 1}[mode]
    arr = rng.integers(0, 256, (20, 30, channels), dtype=np.uint8)
    if mode == "np_RGBA":
        image = arr
    elif mode == "np_grey_chw":
        image = arr.transpose(2, 0, 1).copy()
    else:
        image = Image.fromarray(arr[..., 0] if channels == 1 else arr)
    kw = dict(size={"shortest_edge": 16, "longest_edge": 40}, do_convert_rgb=True)
    ours = MaskFormerImageProcessor(**kw)(image)
    ref = hf_classes()["maskformer"](**kw)(image, return_tensors="pt")
    assert torch.equal(ours["pixel_values"], ref["pixel_values"])
    grey = MaskFormerImageProcessor(image_mean=0.5, image_std=0.25)(arr[..., 0])  # 2-D array = 1 channel
    assert grey["pixel_values"].shape[1] == 1


def test_config_roundtrip_and_legacy_names():
    proc = Mask2FormerImageProcessor(ignore_index=255, do_reduce_labels=True, num_labels=150, size={"height": 64, "width": 64})
    config = json.loads(json.dumps(proc.to_dict()))
    assert config["image_processor_type"] == "Mask2FormerImageProcessor"
    again = Mask2FormerImageProcessor.from_dict(config)
    assert again.to_dict() == proc.to_dict()
    hf_config = hf_classes()["mask2former"](ignore_index=255, num_labels=150, size={"height": 64, "width": 64}).to_dict()
    from_hf = Mask2FormerImageProcessor.from_dict(hf_config)
    assert {k: from_hf.to_dict()[k] for k in ("ignore_index", "num_labels", "size", "resample")} == {
        "ignore_index": 255, "num_labels": 150, "size": {"height": 64, "width": 64}, "resample": 2
    }
    with pytest.warns(FutureWarning, match="reduce_labels"):
        legacy = MaskFormerImageProcessor.from_dict(
            {"reduce_labels": True, "ignore_index": 255, "size_divisibility": 8, "size": 384, "max_size": 600,
             "feature_extractor_type": "MaskFormerFeatureExtractor"}
        )
    assert legacy.do_reduce_labels and legacy.size_divisor == 8
    assert legacy.size == {"shortest_edge": 384, "longest_edge": 600}


def test_output_container_and_return_tensors():
    images, maps = _images_and_maps()
    out = MaskFormerImageProcessor(size={"height": 32, "width": 32})(images, maps)
    assert isinstance(out, ProcessorOutput) and out.pixel_values is out["pixel_values"]
    moved = out.to(torch.float64)
    assert moved.pixel_values.dtype == torch.float64 and moved.mask_labels[0].dtype == torch.float64
    with pytest.raises(AttributeError, match="no field"):
        out.labels
    as_np = MaskFormerImageProcessor()(images, maps, return_tensors="np")
    assert isinstance(as_np["pixel_values"], np.ndarray) and isinstance(as_np["mask_labels"][0], np.ndarray)
    as_list = MaskFormerImageProcessor()(images, return_tensors=None)
    assert isinstance(as_list["pixel_values"], list) and len(as_list["pixel_values"]) == 2
    batch = MaskFormerImageProcessor()(np.stack([images[0]] * 3))  # a 4-D batch array
    assert batch["pixel_values"].shape[0] == 3


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda p, im, m: MaskFormerImageProcessor(do_reduce_labels=True), ValueError, "ignore_index"),
        (lambda p, im, m: p(im, m[:1]), ValueError, "1 segmentation maps for 2 images"),
        (lambda p, im, m: p(im, m, [{0: 1}]), ValueError, "1 mappings for 2"),
        (lambda p, im, m: p(im[:1], m[:1], {0: 1}), KeyError, r"instance ids \[1, 2, 3\] of segmentation map 0"),
        (lambda p, im, m: p(im, m, foo=1), TypeError, "unexpected argument"),
        (lambda p, im, m: MaskFormerImageProcessor(size={"longest_edge": 9}), ValueError, "key sets"),
        (lambda p, im, m: p(im, pad_size={"height": 10, "width": 10}), ValueError, "pad_size"),
        (lambda p, im, m: p(im, return_tensors="tf"), ValueError, "return_tensors"),
        (lambda p, im, m: p(im[:1], Image.fromarray(im[0])), ValueError, "single-channel"),
        (lambda p, im, m: p(im[:1], m[0] + 0.5), ValueError, "integer ids"),
        (lambda p, im, m: p(np.zeros((5, 6, 7))), ValueError, "input_data_format"),
        (lambda p, im, m: p(im, image_mean=[0.1, 0.2]), ValueError, "image_mean has 2 values"),
        (lambda p, im, m: p(im, input_data_format="nchw"), ValueError, "channels_first"),
        (lambda p, im, m: p(im[0], instance_id_to_semantic_id={1: 1}), ValueError, "without segmentation_maps"),
        (lambda p, im, m: p("image.png"), TypeError, "PIL images, numpy arrays"),
        (lambda p, im, m: p([]), ValueError, "no images"),
    ],
)
def test_clear_errors(call, error, match):
    images, maps = _images_and_maps()
    with pytest.raises(error, match=match), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        call(MaskFormerImageProcessor(do_resize=False, ignore_index=255), images, maps)
