"""inference() on a converted Hugging Face checkpoint, against the HF model and processor."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from mmengine.config import Config

from segformers.apis import inference, init_model
from segformers.models.postprocess import instance_inference, semantic_inference

transformers = pytest.importorskip("transformers")
from tests.checkpoint.test_hf_parity import (  # noqa: E402
    convert_and_load, mask2former, maskformer, randomize_norms_, small_swin,
)

MEAN = np.array([123.675, 116.28, 103.53])
STD = np.array([58.395, 57.12, 57.375])


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(96, 128, 3), dtype=np.uint8)


def hf_logits(hf_model, image: np.ndarray):  # noqa: ANN001, ANN201
    x = torch.from_numpy(((image - MEAN) / STD).transpose(2, 0, 1)).float()[None]
    with torch.no_grad():
        return hf_model(pixel_values=x, output_hidden_states=True)  # HF MaskFormer needs it with aux loss


def hf_pair(family: str, tmp_path):  # noqa: ANN001, ANN201
    torch.manual_seed(0)
    hf_model = randomize_norms_((maskformer if family == "maskformer" else mask2former)(small_swin()))
    return hf_model, convert_and_load(hf_model, tmp_path)


def with_postprocessor(tmp_path, postprocessor: dict):  # noqa: ANN001, ANN201
    """The converted checkpoint rebuilt from its config with ``model.postprocessor`` replaced."""
    cfg = Config.fromfile(str(tmp_path / "ours/config.py"))
    cfg.model.postprocessor = postprocessor
    cfg.dump(str(tmp_path / "ours/config_pp.py"))
    return init_model(tmp_path / "ours/config_pp.py", tmp_path / "ours/model.pth")


@pytest.mark.parametrize("family", ["maskformer", "mask2former"])
def test_converted_checkpoint_defaults_to_hf_processor_postprocessing(family, image, tmp_path):
    hf_model, model = hf_pair(family, tmp_path)
    assert type(model.postprocessor).__name__ == "HFImageProcessorInference"
    path = tmp_path / "img.png"
    Image.fromarray(image).save(path)
    res_path, res_pil, res_arr = (inference(model, path), inference(model, Image.fromarray(image)),
                                  inference(model, image))
    for other in (res_pil, res_arr):
        assert torch.equal(res_path["sem_seg"], other["sem_seg"])
    assert res_path["sem_seg"].shape == (96, 128)
    out = hf_logits(hf_model, image)
    proc = transformers.MaskFormerImageProcessor(do_resize=False)
    hf_map = proc.post_process_semantic_segmentation(out, target_sizes=[(96, 128)])[0]
    assert torch.equal(res_path["sem_seg"], hf_map)  # identical, not just close
    assert ("instances" in res_path) == (family == "mask2former")
    if family == "mask2former":
        hf_ins = proc.post_process_instance_segmentation(out, target_sizes=[(96, 128)], return_binary_maps=True)[0]
        assert_same_instances(res_path["instances"], hf_ins)


def assert_same_instances(ours: dict, hf: dict) -> None:
    infos = hf["segments_info"]
    assert ours["labels"].tolist() == [s["label_id"] for s in infos]
    assert ours["scores"].tolist() == pytest.approx([s["score"] for s in infos], abs=1e-6)
    if infos:
        assert torch.equal(ours["masks"], hf["segmentation"].bool())
    assert ours["masks"].shape[0] == len(infos) == ours["query_ids"].shape[0]


def test_hf_postprocessor_equals_processor_for_all_tasks(image, tmp_path):
    """Semantic, instance and panoptic maps identical to transformers' processor. Low thresholds so that
    the random model keeps segments; stuff classes 3, 4 are fused (the default from ``thing_ids``).
    Mask2Former only: the small random HF MaskFormer's queries are near-identical (mask logits differ by
    ~1e-5 across queries), so its instance / panoptic assignment is a tie that transformers does not define."""
    hf_model, _ = hf_pair("mask2former", tmp_path)
    model = with_postprocessor(tmp_path, dict(
        type="HFImageProcessorInference", semantic_on=True, instance_on=True, panoptic_on=True,
        threshold=0.05, mask_threshold=0.1, thing_ids=[0, 1, 2]))
    res = inference(model, image)
    out = hf_logits(hf_model, image)
    proc = transformers.MaskFormerImageProcessor(do_resize=False)
    size = [(96, 128)]
    assert torch.equal(res["sem_seg"], proc.post_process_semantic_segmentation(out, target_sizes=size)[0])
    hf_ins = proc.post_process_instance_segmentation(
        out, threshold=0.05, target_sizes=size, return_binary_maps=True)[0]
    assert len(hf_ins["segments_info"]) > 0
    assert_same_instances(res["instances"], hf_ins)
    hf_pan = proc.post_process_panoptic_segmentation(
        out, threshold=0.05, mask_threshold=0.1, label_ids_to_fuse={3, 4}, target_sizes=size)[0]
    assert len(hf_pan["segments_info"]) > 0
    assert torch.equal(res["panoptic_seg"], hf_pan["segmentation"].to(torch.int32))
    assert [(s["id"], s["category_id"], s["isthing"]) for s in res["segments_info"]] == [
        (s["id"], s["label_id"], s["label_id"] < 3) for s in hf_pan["segments_info"]]
    assert [s["score"] for s in res["segments_info"]] == pytest.approx(
        [s["score"] for s in hf_pan["segments_info"]], abs=1e-6)


@pytest.mark.parametrize("family", ["maskformer", "mask2former"])
def test_official_postprocessor_via_config_equals_official_postprocessing(family, image, tmp_path):
    hf_model, _ = hf_pair(family, tmp_path)
    model = with_postprocessor(tmp_path, dict(
        type="MaskFormerInference", semantic_on=True, instance_on=family == "mask2former", panoptic_on=False,
        panoptic_intersect_mask=family == "mask2former", topk_per_image=30))
    res = inference(model, image)
    out = hf_logits(hf_model, image)
    masks = F.interpolate(out.masks_queries_logits, size=(96, 128), mode="bilinear", align_corners=False)[0]
    expected = semantic_inference(out.class_queries_logits[0], masks).argmax(0)
    assert torch.equal(res["sem_seg"], expected)
    if family == "mask2former":
        ins = instance_inference(out.class_queries_logits[0], masks, topk=30)  # min(100, Q x K)
        torch.testing.assert_close(res["instances"]["scores"], ins["scores"], atol=1e-5, rtol=0)
        assert torch.equal(res["instances"]["labels"], ins["labels"])
    # HF's processor interpolates the per-class scores (sigmoid first), the official code the mask logits:
    # the maps agree except along boundaries.
    proc = transformers.MaskFormerImageProcessor(do_resize=False)
    hf_map = proc.post_process_semantic_segmentation(out, target_sizes=[(96, 128)])[0]
    agree = (hf_map == res["sem_seg"]).float().mean().item()
    assert agree > 0.97, agree


def test_infer_tool_writes_overlays_and_raw_results(image, tmp_path):
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("infer_tool", root / "tools" / "infer.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    torch.manual_seed(0)
    hf_model = randomize_norms_(mask2former(small_swin()))
    convert_and_load(hf_model, tmp_path)
    Image.fromarray(image).save(tmp_path / "scene.png")
    tool.main([str(tmp_path / "ours/config.py"), str(tmp_path / "ours/model.pth"), str(tmp_path / "scene.png"),
               "--out", str(tmp_path / "vis")])
    sem = np.asarray(Image.open(tmp_path / "vis/scene_sem_seg.png"))
    assert sem.shape == (96, 128) and sem.max() < 5
    overlay = Image.open(tmp_path / "vis/scene_semantic.png")
    assert overlay.size[0] > 128 and overlay.size[1] >= 96  # image + legend column
    import json

    record = json.loads((tmp_path / "vis/scene.json").read_text())
    model = init_model(tmp_path / "ours/config.py", tmp_path / "ours/model.pth")
    expected = inference(model, tmp_path / "scene.png")["instances"]
    assert len(record["instances"]) == len(expected["scores"])  # HF processor rule: score >= 0.5
    assert all("counts" in r["mask_rle"] for r in record["instances"])
