"""The model zoo: every released config builds with the published size and the official hyper-parameters.

The expected values below are transcribed from shared/reference/official.md §1 (zoo), §2.1-§2.3
(Mask2Former) and §2.6-§2.8 (backbones, MaskFormer), independently of the configs and metafiles.
"""
from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml

from segformers.apis import load_config
from segformers.apis.inference import dataset_meta
from segformers.models import MaskFormer
from segformers.registry import DATASETS, POSTPROCESSORS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools/analysis"))

import complexity  # noqa: E402
import gen_model_zoo  # noqa: E402

MODELS = gen_model_zoo.load_models(ROOT)
BY_NAME = {m["Name"]: m for m in MODELS}
LEAVES = sorted(p for fam in ("mask2former", "maskformer") for p in (ROOT / "configs" / fam).glob("*.py"))

# --- official hyper-parameters --------------------------------------------------------------------
T, F = True, False
M2F_COMMON = dict(dec_layers=9, weights=(2.0, 5.0, 5.0), points=12544, lr=1e-4, wd=0.05, backbone_mult=0.1,
                  amp=True, overlap=0.8, intersect=True, size_divisor=32, pixel_decoder="MSDeformAttnPixelDecoder",
                  in_feature="multi_scale", omt=0.8, warmup=(0, 1.0), milestones=None, dropout=0.0, enc_layers=6,
                  input_proj=False)
COCO_50E = dict(iters=368750, warmup=(10, 1.0), milestones=[327778, 355092])
M2F_SETS = {  # classes, train crop, iterations, test flags (semantic, instance, panoptic), ResNet norm
    "coco-panoptic": dict(classes=133, crop=(1024, 1024), flags=(T, T, T), **COCO_50E),
    "coco-instance": dict(classes=80, crop=(1024, 1024), flags=(F, T, F), **COCO_50E),
    "ade20k-512x512": dict(classes=150, crop=(512, 512), iters=160000, flags=(T, F, F)),
    "ade20k-640x640": dict(classes=150, crop=(640, 640), iters=160000, flags=(T, F, F)),
    "ade20k-panoptic": dict(classes=150, crop=(640, 640), iters=160000, flags=(T, T, T)),
    "ade20k-instance": dict(classes=100, crop=(640, 640), iters=160000, flags=(T, T, T)),
    "cityscapes-512x1024": dict(classes=19, crop=(512, 1024), iters=90000, flags=(T, F, F), norm="SyncBN"),
    "cityscapes-panoptic": dict(classes=19, crop=(512, 1024), iters=90000, flags=(T, T, T), norm="SyncBN"),
    "cityscapes-instance": dict(classes=8, crop=(512, 1024), iters=90000, flags=(F, T, F), norm="SyncBN"),
    "mapillary-1024x1024": dict(classes=65, crop=(1024, 1024), iters=300000, flags=(T, F, F), omt=0.0),
    "mapillary-panoptic": dict(classes=65, crop=(1024, 1024), iters=300000, flags=(T, F, T), omt=0.0),
}
MF_COMMON = dict(dec_layers=6, weights=(1.0, 20.0, 1.0), points=None, lr=1e-4, wd=1e-4, backbone_mult=0.1,
                 amp=False, overlap=0.0, intersect=False, size_divisor=32, pixel_decoder="FPNPixelDecoder",
                 in_feature="res5", omt=0.0, warmup=(0, 1.0), milestones=None, flags=(T, F, F), dropout=0.1,
                 enc_layers=0, input_proj=False)
MF_PANOPTIC = dict(pixel_decoder="TransformerEncoderPixelDecoder", in_feature="encoder", flags=(T, F, T), overlap=0.8,
                   enc_layers=6)
MF_SETS = {
    "ade20k-512x512": dict(classes=150, crop=(512, 512), iters=160000),
    "ade20k-640x640": dict(classes=150, crop=(640, 640), iters=160000),
    "coco-stuff10k-640x640": dict(classes=171, crop=(640, 640), iters=60000),
    "ade20k-full-512x512": dict(classes=847, crop=(512, 512), iters=200000),
    "cityscapes-512x1024": dict(classes=19, crop=(512, 1024), iters=90000),
    "mapillary-1280x1280": dict(classes=65, crop=(1280, 1280), iters=300000),
    "coco-panoptic": dict(classes=133, crop=None, iters=554400, warmup=(10, 1.0), milestones=[369600], omt=0.8,
                          size_divisor=1, **MF_PANOPTIC),
    "ade20k-panoptic": dict(classes=150, crop=(640, 640), iters=720000, omt=0.7, **MF_PANOPTIC),
}
SWIN = {  # embed_dim, depths, heads, window, pretrained file (the official Swin release, official.md §4.4)
    "swin-t": (96, [2, 2, 6, 2], [3, 6, 12, 24], 7, "swin_tiny_patch4_window7_224.pth"),
    "swin-s": (96, [2, 2, 18, 2], [3, 6, 12, 24], 7, "swin_small_patch4_window7_224.pth"),
    "swin-b": (128, [2, 2, 18, 2], [4, 8, 16, 32], 12, "swin_base_patch4_window12_384.pth"),
    "swin-b-in21k": (128, [2, 2, 18, 2], [4, 8, 16, 32], 12, "swin_base_patch4_window12_384_22k.pth"),
    "swin-l-in21k": (192, [2, 2, 18, 2], [6, 12, 24, 48], 12, "swin_large_patch4_window12_384_22k.pth"),
}
RESNET = {  # depth, stem, stem channels, res5 multi-grid, pretrained file (official.md §2.2, §2.7)
    "r50": (50, "basic", None, [1, 1, 1], "R-50.pkl"),
    "r101": (101, "basic", None, [1, 1, 1], "R-101.pkl"),
    "r101c": (101, "deeplab", 128, [1, 2, 4], "R-103.pkl"),
}
SCHEDULE_ITERS = {"lsj-50e": 368750, "lsj-100e": 737500, "160k": 160000, "90k": 90000, "300k": 300000,
                  "60k": 60000, "200k": 200000, "720k": 720000, "554k": 554400}
M2F_Q200 = {"coco-panoptic", "coco-instance", "ade20k-panoptic", "ade20k-instance", "cityscapes-panoptic",
            "cityscapes-instance", "mapillary-panoptic"}


def split_name(name: str) -> tuple[str, str, int, int, str, str]:
    """``{algorithm}_{backbone}_{gpus}xb{n}-{schedule}_{dataset}`` -> its six parts."""
    algo, backbone, run, dataset = name.split("_")
    gpus_b, schedule = run.split("-", 1)
    gpus, per_gpu = gpus_b.split("xb")
    return algo, backbone, int(gpus), int(per_gpu), schedule, dataset


def expected(name: str) -> dict:
    """The official settings of a config, from the tables above."""
    algo, backbone, _, _, _, dataset = split_name(name)
    swin_l = backbone == "swin-l-in21k"
    if algo == "mask2former":
        exp = {**M2F_COMMON, "norm": "FrozenBN", **M2F_SETS[dataset]}
        exp["queries"] = 200 if swin_l and dataset in M2F_Q200 else 100
        exp["batch"] = 16
        if swin_l and dataset.startswith("coco"):
            exp.update(iters=737500, milestones=[655556, 710184])
        if backbone == "r101" and dataset == "ade20k-512x512":
            exp["norm"] = "SyncBN"
    else:
        exp = {**MF_COMMON, "norm": "FrozenBN", **MF_SETS[dataset], "queries": 100}
        exp["batch"] = {"coco-stuff10k-640x640": 32, "coco-panoptic": 64}.get(dataset, 16)
        if backbone.startswith("swin"):
            exp.update(lr=6e-5, wd=0.01, backbone_mult=1.0, warmup=(1500, 1e-6))
            if dataset == "coco-panoptic":
                exp.update(pixel_decoder="FPNPixelDecoder", in_feature="res5", enc_layers=0, input_proj=True)
    if backbone.startswith("swin"):
        exp["norm"] = None  # the norm rules are the ResNets'
    return exp


def _train_step(cfg, kind: str):  # noqa: ANN001, ANN202
    return next((t for t in cfg.train_dataloader.dataset.pipeline if t["type"] == kind), None)


def resolved(cfg) -> dict:  # noqa: ANN001
    """The same settings read from a resolved config."""
    m, crit, post = cfg.model, cfg.model.criterion, cfg.model.postprocessor
    sched = cfg.param_scheduler[0]
    crop = _train_step(cfg, "FixedSizeCrop") or _train_step(cfg, "RandomCrop")
    weights = (crit.class_loss.loss_weight, *[loss.loss_weight for loss in crit.mask_losses])
    assert [c.weight for c in crit.matcher.costs] == list(weights)  # matching costs = loss weights
    assert crit.class_loss.no_object_weight == 0.1 and cfg.optim_wrapper.clip_grad.max_norm == 0.01
    return dict(
        dec_layers=m.transformer_decoder.dec_layers, weights=weights, points=crit.num_points,
        lr=cfg.optim_wrapper.optimizer.lr, wd=cfg.optim_wrapper.optimizer.weight_decay,
        backbone_mult=cfg.optim_wrapper.paramwise_cfg.backbone_multiplier,
        amp=cfg.optim_wrapper.get("type") == "MixedPrecisionOptimWrapper",
        overlap=post.overlap_threshold, intersect=post.panoptic_intersect_mask, omt=post.object_mask_threshold,
        size_divisor=m.data_preprocessor.size_divisor, pixel_decoder=m.pixel_decoder.type,
        in_feature=m.transformer_decoder.in_feature, warmup=(sched.warmup_iters, sched.warmup_factor),
        milestones=sched.get("milestones"), classes=m.num_classes,
        crop=None if crop is None else tuple(crop["crop_size"]), iters=cfg.train_cfg.max_iters,
        flags=(post.semantic_on, post.instance_on, post.panoptic_on),
        norm=m.backbone.get("norm", "FrozenBN") if m.backbone.type == "ResNet" else None,
        queries=m.transformer_decoder.num_queries, batch=None, dropout=m.transformer_decoder.get("dropout", 0.0),
        enc_layers=m.pixel_decoder.get("transformer_enc_layers", 0),
        input_proj=m.transformer_decoder.get("enforce_input_project", False),
    )


@lru_cache(maxsize=None)
def config(name: str):  # noqa: ANN201
    return load_config(ROOT / BY_NAME[name]["Config"])


# --- the zoo is complete ---------------------------------------------------------------------------
def test_metafiles_list_every_leaf_config_once():
    listed = [ROOT / m["Config"] for m in MODELS]
    assert sorted(listed) == LEAVES
    assert len(set(listed)) == len(listed)
    fams = [m["In Collection"] for m in MODELS]
    assert fams.count("Mask2Former") == 47 and fams.count("MaskFormer") == 24  # official.md §1.2-§1.10
    for m in MODELS:
        assert m["Name"] == Path(m["Config"]).stem
        assert m["Checkpoint"].startswith("model_final_") and m["Weights"].endswith(m["Checkpoint"])


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_resolved_hyper_parameters_match_official(name):
    cfg = config(name)
    exp, got = expected(name), resolved(cfg)
    algo, backbone, gpus, per_gpu, schedule, _ = split_name(name)
    got["batch"] = gpus * per_gpu
    assert cfg.train_dataloader.batch_size == per_gpu
    assert SCHEDULE_ITERS[schedule] == exp["iters"]
    assert cfg.param_scheduler[0].get("end", cfg.param_scheduler[0].get("max_iters")) == exp["iters"]
    if algo == "mask2former":
        assert (cfg.model.criterion.oversample_ratio, cfg.model.criterion.importance_sample_ratio) == (3.0, 0.75)
    diff = {k: (got[k], v) for k, v in exp.items() if got[k] != v}
    assert not diff, f"{name}: (config, official) differ: {diff}"


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_backbone_and_pretrained_weights(name):
    cfg, backbone = config(name), split_name(name)[1]
    bb = cfg.model.backbone
    if backbone in SWIN:
        dim, depths, heads, window, ckpt = SWIN[backbone]
        assert (bb.type, bb.embed_dim, list(bb.depths), list(bb.num_heads), bb.window_size) == (
            "SwinTransformer", dim, depths, heads, window)
        assert bb.drop_path_rate == 0.3
    else:
        depth, stem, stem_ch, grid, ckpt = RESNET[backbone]
        assert (bb.type, bb.depth, bb.get("stem_type", "basic"), bb.get("stem_out_channels")) == (
            "ResNet", depth, stem, stem_ch)
        assert list(bb.get("res5_multi_grid", [1, 1, 1])) == grid and bb.freeze_at == 0
    assert dict(bb.init_cfg) == dict(type="Pretrained", checkpoint=f"pretrained/{ckpt}")
    assert Path(ckpt).stem == Path(BY_NAME[name]["Metadata"]["Pretrained"]).stem  # the official run's file


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_metafile_metadata_agrees_with_config(name):
    cfg, meta = config(name), BY_NAME[name]["Metadata"]
    gpus, per_gpu = split_name(name)[2:4]
    assert meta["Queries"] == cfg.model.transformer_decoder.num_queries
    assert meta["Iterations"] == cfg.train_cfg.max_iters
    assert meta["Batch Size"] == gpus * per_gpu
    assert meta["Training Resources"].startswith(f"{gpus}x")


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_classes_and_thing_ids_follow_dataset_metainfo(name):
    cfg = config(name)
    meta = DATASETS.get(cfg.val_dataloader.dataset.type).METAINFO
    assert len(meta["classes"]) == cfg.model.num_classes
    post = cfg.model.postprocessor
    assert "thing_ids" not in post  # init_model's route instead (on a stand-in with the two attributes it reads)
    model = SimpleNamespace(num_classes=cfg.model.num_classes, postprocessor=POSTPROCESSORS.build(post))
    MaskFormer.set_dataset_meta(model, dataset_meta(cfg))
    if post.panoptic_on:
        assert model.postprocessor.thing_ids == [i for i, t in enumerate(meta["is_thing"]) if t]


def test_maskformer_coco_panoptic_uses_the_detr_panoptic_augmentation():
    """official.md §2.8: flip, then with p 0.5 either ResizeShortestEdge(480..800 step 32, max 1333, choice)
    or [ResizeShortestEdge([400, 500, 600], choice), RandomCrop absolute_range (384, 600), the same resize]."""
    names = [n for n in BY_NAME if n.startswith("maskformer_") and n.endswith("coco-panoptic")]
    assert len(names) == 6
    for name in names:
        pipeline = config(name).train_dataloader.dataset.pipeline
        assert [t["type"] for t in pipeline] == [
            "LoadImageFromFile", "LoadSegAnnotations", "RandomFlip", "RandomChoice", "PackSegInputs"]
        assert pipeline[2]["prob"] == 0.5 and pipeline[-1]["drop_empty"] is False
        choice = pipeline[3]
        assert list(choice["prob"]) == [0.5, 0.5]
        plain, crop = choice["transforms"]
        final = dict(type="ResizeShortestEdge", short_edge_length=list(range(480, 801, 32)),
                     max_size=1000 if "swin-l" in name else 1333, sample_style="choice")
        assert [dict(t, short_edge_length=list(t["short_edge_length"])) for t in plain] == [final]
        assert [t["type"] for t in crop] == ["ResizeShortestEdge", "RandomCrop", "ResizeShortestEdge"]
        first, cut, last = crop
        assert list(first["short_edge_length"]) == [400, 500, 600] and first["sample_style"] == "choice"
        assert first.get("max_size", 10**9) >= 10**9  # no long-side limit before the crop (detectron2 default)
        assert (cut["crop_type"], tuple(cut["crop_size"])) == ("absolute_range", (384, 600))
        assert dict(last, short_edge_length=list(last["short_edge_length"])) == final


# --- schedules ------------------------------------------------------------------------------------
def test_schedule_lengths_come_from_schedule_files():
    zoo_files = sorted((ROOT / "configs").glob("mask*/**/*.py"))
    assert len(zoo_files) > len(LEAVES)  # the leaves and the per-dataset bases
    for path in zoo_files:
        text = path.read_text()
        for key in ("max_iters =", "train_cfg ="):
            assert key not in text, f"{path.relative_to(ROOT)} sets {key!r}: inherit a schedule file"
    schedules = {load_config(p).train_cfg.max_iters: p.name
                 for p in (ROOT / "configs/_base_/schedules").glob("schedule_*.py")}
    assert set(SCHEDULE_ITERS.values()) <= set(schedules)
    for name in BY_NAME:  # the resolved schedule is that file's, warm-up aside (MaskFormer Swin)
        cfg = config(name)
        ref = load_config(ROOT / "configs/_base_/schedules" / schedules[cfg.train_cfg.max_iters])
        got, want = dict(cfg.param_scheduler[0]), dict(ref.param_scheduler[0])
        for key in ("warmup_iters", "warmup_factor"):
            got.pop(key), want.pop(key)
        assert got == want and cfg.train_cfg == ref.train_cfg, name


# --- evaluators -----------------------------------------------------------------------------------
PAN, SEM, INS = "PanopticMetric", "SemSegMetric", "CocoInstanceMetric"
CS_PAN, CS_SEM, CS_INS = "CityscapesPanopticMetric", "CityscapesSemSegMetric", "CityscapesInstanceMetric"
EVALUATORS = {  # official.md §2.3 (Mask2Former train_net.py); MaskFormer predicts no instances (§2.8)
    ("mask2former", "coco-panoptic"): [PAN, SEM, INS],
    ("mask2former", "coco-instance"): [INS],
    ("mask2former", "ade20k-panoptic"): [PAN, SEM, INS],
    ("mask2former", "ade20k-instance"): [INS],
    ("mask2former", "cityscapes-512x1024"): [CS_SEM],
    ("mask2former", "cityscapes-panoptic"): [CS_PAN, CS_SEM, CS_INS],
    ("mask2former", "cityscapes-instance"): [CS_INS],
    ("mask2former", "mapillary-panoptic"): [PAN, SEM],
    ("maskformer", "coco-panoptic"): [PAN],
    ("maskformer", "ade20k-panoptic"): [PAN, SEM],
    ("maskformer", "cityscapes-512x1024"): [CS_SEM],
}
NEEDS = {SEM: "semantic_on", CS_SEM: "semantic_on", PAN: "panoptic_on", CS_PAN: "panoptic_on",
         INS: "instance_on", CS_INS: "instance_on"}
VAL_FILES = {  # the ground truth each metric reads, relative to data_root
    "coco-panoptic": "annotations/instances_val2017.json", "coco-instance": "annotations/instances_val2017.json",
    "ade20k-panoptic": "ade20k_instance_val.json", "ade20k-instance": "ade20k_instance_val.json",
}


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_test_evaluator_is_the_official_one_and_builds(name):
    from segformers.evaluation import CocoInstanceMetric, SemSegMetric
    from segformers.registry import METRICS

    cfg, (algo, _, _, _, _, dataset) = config(name), split_name(name)
    assert "test_evaluator" in cfg and cfg.test_evaluator == cfg.val_evaluator
    entries = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
    assert [e["type"] for e in entries] == EVALUATORS.get((algo, dataset), [SEM])
    post, root = cfg.model.postprocessor, cfg.test_dataloader.dataset.data_root
    for entry in entries:
        metric = METRICS.build(entry)  # opens no file: the datasets need not exist
        assert type(metric).__name__ == entry["type"]
        assert post[NEEDS[entry["type"]]], f"{entry['type']} needs the model's {NEEDS[entry['type']]}"
        if isinstance(metric, SemSegMetric):
            ignore = {"mapillary": 65, "ade20k-full": 65535}
            assert metric.ignore_index == next((v for k, v in ignore.items() if dataset.startswith(k)), 255)
        if isinstance(metric, CocoInstanceMetric):
            assert metric.ann_file == root + VAL_FILES[dataset] and metric._coco is None
        if entry["type"] in (CS_SEM, CS_INS):
            assert metric.gt_dir == root + "gtFine/val"
        if entry["type"] == CS_PAN:
            assert (metric.gt_json, metric.gt_folder) == (
                root + "gtFine/cityscapes_panoptic_val.json", root + "gtFine/cityscapes_panoptic_val")


# --- parameters: rounded to millions, equal to the papers' ---------------------------------------
def _published_params(m: dict) -> int:
    """The entry's published size, else that of the published sibling with the same parts and queries."""
    if "Parameters (M)" in m["Metadata"]:
        return m["Metadata"]["Parameters (M)"]
    cfg = config(m["Name"])
    key = (m["In Collection"], m["Metadata"]["Backbone"], m["Metadata"]["Queries"], cfg.model.pixel_decoder.type)
    for other in MODELS:
        if "Parameters (M)" in other["Metadata"]:
            o = config(other["Name"])
            if key == (other["In Collection"], other["Metadata"]["Backbone"], other["Metadata"]["Queries"],
                       o.model.pixel_decoder.type):
                return other["Metadata"]["Parameters (M)"]
    raise AssertionError(f"no published size for {m['Name']}")


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_parameter_count_matches_published(name):
    params = gen_model_zoo.count_params_meta(ROOT / BY_NAME[name]["Config"])
    assert int(params / 1e6 + 0.5) == _published_params(BY_NAME[name])


# --- FLOPs --------------------------------------------------------------------------------------
ADE_SEMANTIC = [m["Name"] for m in MODELS if "FLOPs (G)" in m["Metadata"] and "ade20k-" in m["Name"]]
FAST_FLOPS = ["mask2former_r50_8xb2-160k_ade20k-512x512", "maskformer_r50_8xb2-160k_ade20k-512x512"]


def _check_flops(name: str) -> None:
    result = complexity.measure(str(ROOT / BY_NAME[name]["Config"]))
    published = BY_NAME[name]["Metadata"]["FLOPs (G)"]
    side = int(BY_NAME[name]["Metadata"]["Crop Size"].split("x")[0])
    assert result["input"]["shape"] == [side, side]  # the papers' fixed crop-size input
    assert abs(result["flops"]["total"] / 1e9 - published) <= 0.03 * published


@pytest.mark.parametrize("name", FAST_FLOPS)
def test_ade20k_semantic_flops_within_3_percent(name):
    _check_flops(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in ADE_SEMANTIC if n not in FAST_FLOPS])
def test_ade20k_semantic_flops_within_3_percent_slow(name):
    _check_flops(name)


def test_flop_handles_count_attention_and_grid_sample():
    from fvcore.nn import FlopCountAnalysis

    class Probe(torch.nn.Module):
        def forward(self, q, k, v, img, grid):  # noqa: ANN001, ANN201
            att = torch.nn.functional.scaled_dot_product_attention(q, k, v)
            return att, torch.nn.functional.grid_sample(img, grid, align_corners=False)

    q, k, v = torch.zeros(2, 4, 10, 8), torch.zeros(2, 4, 30, 8), torch.zeros(2, 4, 30, 16)
    img, grid = torch.zeros(1, 3, 8, 8), torch.zeros(1, 5, 6, 2)
    fl = FlopCountAnalysis(Probe(), (q, k, v, img, grid))
    fl.set_op_handle(**{"aten::scaled_dot_product_attention": complexity.sdpa_flop_jit})
    fl.unsupported_ops_warnings(False)
    assert fl.by_operator()["scaled_dot_product_attention"] == 2 * 4 * 10 * 30 * (8 + 16)
    assert fl.by_operator()["grid_sampler"] == 4 * 1 * 3 * 5 * 6


def test_default_flop_inputs():
    coco = load_config(ROOT / "configs/mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py")
    assert complexity.default_input(coco)[:3] == ((800, 1088), (800, 1067), (480, 640))
    mf_coco = config("maskformer_r50_64xb1-554k_coco-panoptic")  # SIZE_DIVISIBILITY 0: no padding
    assert complexity.default_input(mf_coco)[0] == (800, 1067)
    ade = config("mask2former_swin-l-in21k_16xb1-160k_ade20k-640x640")
    assert complexity.default_input(ade)[0] == (640, 640)
    city = config("mask2former_r50_8xb2-90k_cityscapes-panoptic")
    assert complexity.default_input(city)[0] == (1024, 2048)


# --- the generated page ---------------------------------------------------------------------------
def test_model_zoo_page_is_generated_from_the_metafiles():
    page = (ROOT / "docs/model_zoo.md").read_text()
    assert page.startswith(gen_model_zoo.INTRO.splitlines()[0])
    for m in MODELS:
        assert f"[{m['Name']}](../{m['Config']})" in page
        assert m["Checkpoint"] in page
    rendered = gen_model_zoo.render(MODELS, {})
    assert rendered.count("\n### ") == page.count("\n### ")
    assert yaml.safe_load((ROOT / "metafiles/mask2former.yml").read_text())["Collections"][0]["Name"] == "Mask2Former"


# --- the datasets the zoo adds --------------------------------------------------------------------
def _write_pair(root: Path, img_dir: str, seg_dir: str, name: str, label: np.ndarray, suffix: str) -> None:
    import cv2
    from PIL import Image

    (root / img_dir).mkdir(parents=True, exist_ok=True)
    (root / seg_dir).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / img_dir / f"{name}.jpg"), np.zeros((*label.shape, 3), np.uint8))
    Image.fromarray(label).save(root / seg_dir / f"{name}{suffix}")


def test_zoo_datasets_read_their_layouts(tmp_path):
    from segformers.data.datasets.zoo_datasets import ADE20KFullDataset, CocoStuff10kDataset, MapillaryDataset

    load = [dict(type="LoadImageFromFile"), dict(type="LoadSegAnnotations")]
    label = np.full((6, 8), 65, np.uint8)
    label[:3] = 64  # "Ego Vehicle", the last class; 65 = "Unlabeled" is ignored
    _write_pair(tmp_path / "map", "training/images", "training/labels", "a", label, ".png")
    sem = MapillaryDataset(data_root=str(tmp_path / "map"), pipeline=load)[0]["gt_sem_seg"]
    assert sem.tolist() == label.astype(np.int32).tolist()
    assert MapillaryDataset(data_root=str(tmp_path / "map"), lazy_init=True).ignore_index == 65

    full = np.full((6, 8), 65535, np.uint16)
    full[2:, :4] = 846
    _write_pair(tmp_path / "full", "images_detectron2/training", "annotations_detectron2/training", "b", full, ".tif")
    sem = ADE20KFullDataset(data_root=str(tmp_path / "full"), pipeline=load)[0]["gt_sem_seg"]
    assert sorted(np.unique(sem).tolist()) == [846, 65535]

    stuff = np.full((6, 8), 255, np.uint8)
    stuff[0] = 170
    _write_pair(tmp_path / "stuff", "images_detectron2/train", "annotations_detectron2/train", "c", stuff, ".png")
    ds = CocoStuff10kDataset(data_root=str(tmp_path / "stuff"), pipeline=load)
    assert ds.metainfo["classes"][170] == "wood" and ds.metainfo["classes"][80] == "banner"
    assert sorted(np.unique(ds[0]["gt_sem_seg"]).tolist()) == [170, 255]
