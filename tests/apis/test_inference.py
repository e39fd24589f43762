"""inference() on a converted Hugging Face checkpoint, against the HF model and processor."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from segformers.apis import inference
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


@pytest.mark.parametrize("family", ["maskformer", "mask2former"])
def test_inference_equals_hf_model_with_official_postprocessing(family, image, tmp_path):
    torch.manual_seed(0)
    hf_model = randomize_norms_((maskformer if family == "maskformer" else mask2former)(small_swin()))
    model = convert_and_load(hf_model, tmp_path)
    path = tmp_path / "img.png"
    Image.fromarray(image).save(path)
    res_path, res_pil, res_arr = (inference(model, path), inference(model, Image.fromarray(image)),
                                  inference(model, image))
    for other in (res_pil, res_arr):
        assert torch.equal(res_path["sem_seg"], other["sem_seg"])
    assert res_path["sem_seg"].shape == (96, 128)
    out = hf_logits(hf_model, image)
    masks = F.interpolate(out.masks_queries_logits, size=(96, 128), mode="bilinear", align_corners=False)[0]
    expected = semantic_inference(out.class_queries_logits[0], masks).argmax(0)
    assert torch.equal(res_path["sem_seg"], expected)
    if family == "mask2former":
        ins = instance_inference(out.class_queries_logits[0], masks, topk=30)  # min(100, Q x K)
        torch.testing.assert_close(res_path["instances"]["scores"], ins["scores"], atol=1e-5, rtol=0)
        assert torch.equal(res_path["instances"]["labels"], ins["labels"])
    # HF's processor interpolates the per-class scores (sigmoid first), the official code the mask logits:
    # the maps agree except along boundaries.
    proc = transformers.MaskFormerImageProcessor(do_resize=False)
    hf_map = proc.post_process_semantic_segmentation(out, target_sizes=[(96, 128)])[0]
    agree = (hf_map == res_path["sem_seg"]).float().mean().item()
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
    assert len(record["instances"]) == 30 and "counts" in record["instances"][0]["mask_rle"]
