"""bf16 autocast on a trained toy Mask2Former: its results within bf16 rounding of the float32 model's.

A tiny Mask2Former (the quick-start config shrunk by ``toy_train_probes.tiny_overrides``, float32 backbone)
is trained here on toy data, then evaluated by ``tools/test.py`` with and without ``--amp`` (PQ, mIoU and
mask AP within 0.3), and its raw outputs compared: the queries' argmax classes and the mask pixels
(``logit > 0``) agree on >= 99.5% (classes: of the queries whose two best classes are not within bf16
rounding of each other). The deformable sampling core sees float32 under autocast
(``MSDeformAttn``'s island; ``tests/models/test_pixel_decoders.py``).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from segformers.apis import forward_logits
from segformers.apis.runner import build_runner
from tests.engine.toy_train_probes import M2F, make_toy_data, tiny_overrides, write_tiny_config
from tools import test as test_tool

# 400 iterations on 64 toy scenes, evaluated on 48 (about 40 s with the evaluations): a shorter training on
# fewer scenes leaves so many borderline segments that one flipped segment moves PQ / AP by more than 0.3
ITERS = 400


def _test_settings(root: str) -> dict:
    """The toy val split at its size, evaluated for the three tasks."""
    dataset = dict(type="CocoPanopticDataset", data_root=root + "/", test_mode=True,
                   ann_file="coco/annotations/panoptic_val2017.json",
                   data_prefix=dict(img_path="coco/val2017/", pan_seg_path="coco/panoptic_val2017/"),
                   pipeline=[dict(type="LoadImageFromFile"), dict(type="LoadSegAnnotations"),
                             dict(type="PackSegInputs")])
    return dict(
        test_dataloader=dict(batch_size=4, num_workers=0, persistent_workers=False, dataset=dataset,
                             sampler=dict(type="DefaultSampler", shuffle=False),
                             collate_fn=dict(type="pseudo_collate")),
        test_cfg=dict(type="TestLoop"),
        test_evaluator=[dict(type="PanopticMetric"), dict(type="SemSegMetric"),
                        dict(type="CocoInstanceMetric", ann_file=root + "/coco/annotations/instances_val2017.json")],
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[str, str, torch.nn.Module]:
    """``(config path, checkpoint path, model)`` of the toy model trained ``ITERS`` iterations."""
    work = tmp_path_factory.mktemp("bf16")
    root = make_toy_data(str(work / "toy"), num_train=64, num_val=48)
    overrides = tiny_overrides(root, True, ITERS, lr=2e-3)
    del overrides["custom_imports"]  # no probe hooks
    overrides["model"]["backbone"].update(channels_last=False, autocast_dtype=None)  # the float32 reference
    overrides["model"]["postprocessor"] = dict(topk_per_image=50)  # 10 queries x 8 classes
    overrides["default_hooks"] = dict(logger=dict(interval=50), checkpoint=dict(interval=ITERS, max_keep_ckpts=1))
    overrides.update(_test_settings(root), work_dir=str(work / "run"))
    config = write_tiny_config(str(work / "tiny.py"), M2F, overrides)
    torch.manual_seed(0)
    runner = build_runner(Config.fromfile(config))
    runner.train()
    checkpoint = str(Path(runner.work_dir) / f"iter_{ITERS}.pth")
    return config, checkpoint, runner.model.eval()


def _metrics(config: str, checkpoint: str, work_dir: Path, amp: bool) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the emulated-bf16 speed warning of CPUs without bf16 instructions
        out = test_tool.main([config, checkpoint, "--work-dir", str(work_dir)] + (["--amp"] if amp else []))
    return {k: float(out[k]) for k in ("panoptic_seg/PQ", "sem_seg/mIoU", "segm/AP")}


def test_bf16_metrics_within_0_3_of_fp32(trained, tmp_path):
    config, checkpoint, _ = trained
    fp32 = _metrics(config, checkpoint, tmp_path / "fp32", amp=False)
    bf16 = _metrics(config, checkpoint, tmp_path / "bf16", amp=True)
    # it segments something (PQ 4-11, mIoU 12-17 as the op's rounding moves the short training): the comparison
    # means something
    assert fp32["panoptic_seg/PQ"] > 2.0 and fp32["sem_seg/mIoU"] > 8.0, fp32
    for key in fp32:
        assert abs(bf16[key] - fp32[key]) <= 0.3, (key, fp32, bf16)


def _val_images(model: torch.nn.Module, root: Path) -> torch.Tensor:
    """The toy val images, normalized by the model's preprocessor: ``[N, 3, SIZE, SIZE]``."""
    files = sorted((root / "coco" / "val2017").glob("*.jpg"))
    rgb = torch.stack([torch.from_numpy(np.asarray(Image.open(f).convert("RGB"))) for f in files])
    pre = model.data_preprocessor
    return (rgb.permute(0, 3, 1, 2).float() - pre.mean) / pre.std


def test_bf16_classes_and_mask_pixels_agree_with_fp32(trained):
    config, _, model = trained
    images = _val_images(model, Path(config).parent / "toy")
    with torch.no_grad():
        ref = forward_logits(model, images)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = forward_logits(model, images)
    classes = low.class_queries_logits.float().argmax(-1) == ref.class_queries_logits.argmax(-1)
    pixels = (low.masks_queries_logits.float() > 0) == (ref.masks_queries_logits > 0)
    assert low.masks_queries_logits.dtype == torch.bfloat16  # the mask product ran in bf16
    # a query whose two best classes are within bf16's rounding of each other (0.1 logit; bf16 keeps ~3 digits)
    # has no defined argmax under any rounding: compare the others, which must be most queries
    top2 = ref.class_queries_logits.topk(2, dim=-1).values
    decided = (top2[..., 0] - top2[..., 1]) > 0.1
    assert decided.float().mean() >= 0.8, decided.float().mean()
    assert classes[decided].float().mean() >= 0.995, (classes[decided].float().mean(), classes.float().mean())
    assert pixels.float().mean() >= 0.995, pixels.float().mean()


def test_bf16_training_step_gradients_follow_fp32(trained):
    """One loss + backward under bf16 autocast: float32 parameter gradients, finite, pointing where fp32's do."""
    from segformers.structures import SegDataSample, Targets

    config, _, model = trained
    images = _val_images(model, Path(config).parent / "toy")[:2]
    g = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.gt = Targets(torch.randint(0, 8, (3,), generator=g), torch.rand(3, *images.shape[-2:], generator=g) > 0.5)
        samples.append(s)

    def grads(amp: bool) -> torch.Tensor:
        model.train().zero_grad()
        torch.manual_seed(0)  # the same sampled points
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss = sum(model.loss(images, samples).values())
        loss.backward()
        params = [p for p in model.parameters() if p.grad is not None]
        assert all(p.grad.dtype == torch.float32 for p in params)
        return torch.cat([p.grad.flatten() for p in params])

    ref, low = grads(False), grads(True)
    model.eval().zero_grad()
    assert torch.isfinite(low).all()
    cosine = torch.nn.functional.cosine_similarity(ref, low, dim=0)
    assert cosine > 0.99, cosine


@pytest.mark.parametrize("native", [True, False])
def test_emulated_bf16_is_named_by_the_amp_switches(monkeypatch, native):
    """Without bf16 instructions (oneDNN's check) ``enable_amp`` and a bf16 ResNet say it is emulated."""
    from segformers.engine import amp
    from segformers.models.backbones import resnet
    from segformers.models.layers import precision

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: native)
    precision.bf16_is_native.cache_clear()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert amp.bf16_is_native("cpu") is native
    backbone = resnet.ResNet(depth=18, norm="BN", stem_out_channels=8, res2_out_channels=8, out_features=["res2"],
                             autocast_dtype="bfloat16").eval()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        amp.enable_amp(Config(dict(optim_wrapper=dict(type="OptimWrapper"))), "bfloat16")
        with torch.no_grad():
            backbone(torch.zeros(1, 3, 16, 16))
    precision.bf16_is_native.cache_clear()
    messages = [str(w.message) for w in caught if "bf16 instructions" in str(w.message)]
    assert len(messages) == (0 if native else 2), messages
    assert native or ("--amp bfloat16" in messages[0] and "autocast_dtype=None" in messages[1])
