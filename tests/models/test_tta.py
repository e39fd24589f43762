"""Multi-scale + flip test-time augmentation: the views, the merge by hand, flip invariance, --tta."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from PIL import Image

from segformers.apis import build_model
from segformers.data.toy import write_toy_dataset
from segformers.data.transforms.geometric import shortest_edge_shape
from segformers.models import SemanticTTAModel
from segformers.models.tta import merge_semantic
from segformers.structures import SegDataSample
from segformers.registry import TRANSFORMS

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import test as test_tool  # noqa: E402  (tools/test.py)

SCALES = (40, 56)
TINY = dict(  # a small Mask2Former, semantic output only
    backbone=dict(type="ResNet", depth=18, norm="BN", stem_out_channels=8, res2_out_channels=8),
    pixel_decoder=dict(conv_dim=32, mask_dim=32, transformer_enc_layers=1, transformer_nheads=2,
                       transformer_dim_feedforward=32),
    transformer_decoder=dict(hidden_dim=32, num_queries=6, nheads=2, dim_feedforward=32, dec_layers=2),
    postprocessor=dict(semantic_on=True, instance_on=False, panoptic_on=False),
    num_classes=5, criterion=None,
)


def tiny_model(num_classes: int = 5) -> torch.nn.Module:
    cfg = Config.fromfile(str(ROOT / "configs/_base_/models/mask2former_r50.py"))
    cfg.merge_from_dict(dict(model=dict(TINY, num_classes=num_classes)))
    torch.manual_seed(0)
    return build_model(cfg).eval()


def views_pipeline(scales=SCALES, flips=(0.0, 1.0)) -> list:
    return [dict(type="LoadImageFromFile"), dict(type="TestTimeAug", transforms=[
        [dict(type="ResizeShortestEdge", short_edge_length=s, max_size=1000) for s in scales],
        [dict(type="RandomFlip", prob=p) for p in flips],
        [dict(type="PackSegInputs")],
    ])]


def run(pipeline: list, path: Path) -> dict:
    results = dict(img_path=str(path))
    for step in pipeline:
        results = TRANSFORMS.build(step)(results)
    return results


def tta_scores(model, img: np.ndarray, tmp_path: Path, **kw) -> torch.Tensor:
    path = tmp_path / "img.png"
    Image.fromarray(img).save(path)
    batch = pseudo_collate([run(views_pipeline(**kw), path)])
    (merged,) = SemanticTTAModel(module=model).test_step(batch)
    return merged.pred["sem_seg"]


def test_views_are_every_scale_then_its_flip(tmp_path):
    Image.fromarray(np.zeros((30, 45, 3), np.uint8)).save(tmp_path / "a.png")
    out = run(views_pipeline(), tmp_path / "a.png")
    got = [(tuple(s.img_shape), bool(s.flip), tuple(s.ori_shape)) for s in out["data_samples"]]
    assert got == [((40, 60), False, (30, 45)), ((40, 60), True, (30, 45)),
                   ((56, 84), False, (30, 45)), ((56, 84), True, (30, 45))]
    assert [tuple(x.shape) for x in out["inputs"]] == [(3, 40, 60)] * 2 + [(3, 56, 84)] * 2


def test_merge_equals_the_hand_computation(tmp_path):
    """Each view by hand (PIL resize, numpy flip, the model's own test_step), flipped back, summed and
    divided by the number of views: the official SemanticSegmentorWithTTA arithmetic."""
    model, rng = tiny_model(), np.random.default_rng(0)
    img = rng.integers(0, 256, (30, 45, 3), dtype=np.uint8)
    pack = TRANSFORMS.build(dict(type="PackSegInputs"))
    total = torch.zeros(5, 30, 45)
    for short in SCALES:
        h, w = shortest_edge_shape(30, 45, short, 1000)
        resized = np.asarray(Image.fromarray(img).resize((w, h), Image.BILINEAR))
        for flip in (False, True):
            view = np.ascontiguousarray(resized[:, ::-1]) if flip else resized
            packed = pack(dict(img=view, img_shape=(h, w), ori_shape=(30, 45), flip=flip))
            (pred,) = model.test_step(pseudo_collate([packed]))
            scores = pred.pred["sem_seg"]
            assert scores.shape == (5, 30, 45)  # every view is predicted at the original size
            total += scores.flip(-1) if flip else scores
    merged = tta_scores(model, img, tmp_path)
    assert torch.allclose(merged, total / 4, atol=1e-6, rtol=0)
    assert not torch.allclose(merged, tta_scores(model, img, tmp_path, flips=(0.0,)), atol=1e-4)


def test_a_symmetric_image_gives_a_symmetric_prediction(tmp_path):
    """flip(x) = x, so the flipped view flipped back mirrors the plain one: the merge is mirror-symmetric
    for any model; without the flip views (or without flipping back) it is not."""
    model, rng = tiny_model(), np.random.default_rng(1)
    half = rng.integers(0, 256, (32, 24, 3), dtype=np.uint8)
    img = np.concatenate([half, half[:, ::-1]], axis=1)
    merged = tta_scores(model, img, tmp_path)
    assert torch.allclose(merged, merged.flip(-1), atol=1e-6, rtol=0)
    one_scale = tta_scores(model, img, tmp_path, scales=(48,))
    assert torch.equal(one_scale, one_scale.flip(-1))  # two views: a + mirror(a), exactly
    plain = tta_scores(model, img, tmp_path, flips=(0.0,))
    assert not torch.allclose(plain, plain.flip(-1), atol=1e-4)


def test_tta_turns_chunking_off_and_refuses_class_maps(tmp_path):
    """Views average [K, H, W] scores: a chunked postprocessor (class maps for large images) is set to one piece."""
    model, rng = tiny_model(), np.random.default_rng(0)
    model.postprocessor.chunk_elements = 64  # every image of the test would be chunked
    img = rng.integers(0, 256, (30, 45, 3), dtype=np.uint8)
    merged = tta_scores(model, img, tmp_path)
    assert model.postprocessor.chunk_elements == 0 and merged.shape == (5, 30, 45)
    maps = [SegDataSample() for _ in range(2)]
    for m in maps:
        m.pred = {"sem_seg": torch.zeros(30, 45, dtype=torch.long)}
    with pytest.raises(ValueError, match="chunk_elements=0"):
        merge_semantic(maps)


def test_tta_refuses_panoptic_and_instance_outputs():
    cfg = Config.fromfile(str(ROOT / "configs/_base_/models/mask2former_r50.py"))
    cfg.merge_from_dict(dict(model=dict(TINY, postprocessor=dict(panoptic_on=True, thing_ids=[0]))))
    with pytest.raises(ValueError, match="merges semantic scores only"):
        SemanticTTAModel(module=build_model(cfg))


def test_use_tta_swaps_the_pipeline_and_wraps_the_model():
    cfg = Config.fromfile(str(ROOT / "configs/mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py"))
    model = cfg.model
    test_tool.use_tta(cfg)
    assert cfg.model.type == "SemanticTTAModel" and cfg.model.module == model
    steps = cfg.test_dataloader.dataset.pipeline[1]["transforms"]
    assert [r["short_edge_length"] for r in steps[0]] == [256, 384, 512, 640, 768, 896]
    assert {r["max_size"] for r in steps[0]} == {3584} and [f["prob"] for f in steps[1]] == [0.0, 1.0]
    panoptic = Config.fromfile(str(ROOT / "configs/mask2former/mask2former_r50_8xb2-160k_ade20k-panoptic.py"))
    with pytest.raises(ValueError, match="has no tta_pipeline"):
        test_tool.use_tta(panoptic)


def test_tools_test_tta_end_to_end(tmp_path, monkeypatch):
    """tools/test.py --tta on toy data: the runner loads the checkpoint into the wrapped model, predicts
    every view of the config's tta_pipeline and evaluates the merged scores."""
    write_toy_dataset(str(tmp_path / "toy"), num_train=1, num_val=2, size=(48, 64), seed=0, layouts=("ade",),
                      workers=1)
    torch.save({"state_dict": tiny_model(num_classes=8).state_dict()}, tmp_path / "model.pth")
    tta = views_pipeline()
    tta[1]["transforms"].insert(2, [dict(type="LoadSegAnnotations")])  # ground truth at the original size
    loader = dict(num_workers=0, persistent_workers=False, batch_size=2, dataset=dict(data_root=f"{tmp_path}/toy/"))
    bases = [str(ROOT / f"configs/_base_/{name}.py")
             for name in ("models/mask2former_r50", "datasets/toy_semantic", "default_runtime")]
    config = tmp_path / "tiny_tta.py"
    config.write_text("\n".join([
        f"_base_ = {bases!r}", f"model = {dict(TINY, num_classes=8)!r}", f"test_dataloader = {loader!r}",
        "test_evaluator = dict(type='SemSegMetric')", f"tta_pipeline = {tta!r}", "env_cfg = dict(num_threads=1)",
        "train_dataloader = val_dataloader = val_cfg = val_evaluator = None", "test_cfg = dict(type='TestLoop')",
    ]))
    merged_views = []
    merge = SemanticTTAModel.merge_preds

    def spy(self, data_samples_list):  # noqa: ANN001, ANN202
        merged_views.extend([(len(views), tuple(views[0].ori_shape)) for views in data_samples_list])
        return merge(self, data_samples_list)

    monkeypatch.setattr(SemanticTTAModel, "merge_preds", spy)
    metrics = test_tool.main([str(config), str(tmp_path / "model.pth"), "--tta", "--work-dir", str(tmp_path / "w")])
    assert merged_views == [(4, (48, 64)), (4, (48, 64))]  # 2 images, 2 scales x 2 flips each
    assert {"sem_seg/mIoU", "sem_seg/pACC"} <= set(metrics) and 0.0 <= metrics["sem_seg/mIoU"] <= 100.0


def _ms_configs() -> list[str]:
    import yaml

    models = [m for f in ("mask2former", "maskformer") for m in yaml.safe_load(
        (ROOT / f"metafiles/{f}.yml").read_text())["Models"]]
    return [m["Config"] for m in models if "mIoU_ms" in m["Results"][0]["Metrics"]]


OFFICIAL_SCALES = {  # official.md §2.2 (TEST.AUG) and §1.9 (MaskFormer Mapillary: 0.5 / 1.0 / 1.5 of 2048)
    "ade20k-512x512": ([256, 384, 512, 640, 768, 896], [3584] * 6),
    "ade20k-640x640": ([320, 480, 640, 800, 960, 1120], [4480] * 6),
    "coco-stuff10k-640x640": ([320, 480, 640, 800, 960, 1120], [4480] * 6),
    "cityscapes-512x1024": ([512, 768, 1024, 1280, 1536, 1792], [4096] * 6),
    "mapillary": ([1024, 2048, 3072], [1024, 2048, 3072]),
}


@pytest.mark.parametrize("config", _ms_configs())
def test_every_config_with_a_published_ms_number_has_the_official_views(config):
    cfg = Config.fromfile(str(ROOT / config))
    stages = cfg.tta_pipeline[1]["transforms"]
    dataset = config.rsplit("_", 1)[1][:-3]
    shorts, longs = OFFICIAL_SCALES[next(k for k in OFFICIAL_SCALES if dataset.startswith(k))]
    assert [(r["short_edge_length"], r["max_size"]) for r in stages[0]] == list(zip(shorts, longs))
    assert [f["prob"] for f in stages[1]] == [0.0, 1.0] and cfg.tta_model.type == "SemanticTTAModel"
    assert TRANSFORMS.build(cfg.tta_pipeline[1]) is not None
