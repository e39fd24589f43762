"""The MaskFormer meta-architecture built from the real base configs, shrunk for CPU."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from segformers.apis import build_model
from segformers.models.backbones import ResNet
from segformers.models.pixel_decoders import FPNPixelDecoder
from segformers.structures import SegDataSample, Targets

ROOT = Path(__file__).resolve().parents[2]
TINY = {
    "model.num_classes": 5,
    "model.backbone.depth": 18, "model.backbone.norm": "BN", "model.backbone.stem_out_channels": 16,
    "model.backbone.res2_out_channels": 16,
    "model.pixel_decoder.conv_dim": 32, "model.pixel_decoder.mask_dim": 32,
    "model.transformer_decoder.hidden_dim": 32, "model.transformer_decoder.num_queries": 6,
    "model.transformer_decoder.nheads": 2, "model.transformer_decoder.dim_feedforward": 64,
    "model.postprocessor.topk_per_image": 10, "model.postprocessor.thing_ids": [0, 1],
}
M2F_TINY = {**TINY, "model.pixel_decoder.transformer_enc_layers": 1, "model.pixel_decoder.transformer_nheads": 2,
            "model.pixel_decoder.transformer_dim_feedforward": 64, "model.transformer_decoder.dec_layers": 3,
            "model.criterion.num_points": 64, "model.criterion.matcher.num_points": 64}
MF_TINY = {**TINY, "model.transformer_decoder.dec_layers": 2}


def tiny(name: str, options: dict) -> Config:
    cfg = Config.fromfile(str(ROOT / "configs/_base_/models" / name))
    cfg.merge_from_dict(options)
    return cfg


def samples(shapes, num_segments=(3, 0)) -> list[SegDataSample]:
    g = torch.Generator().manual_seed(0)
    out = []
    for (h, w), n in zip(shapes, num_segments):
        s = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(2 * h, 2 * w)))
        s.gt = Targets(torch.randint(0, 5, (n,), generator=g), torch.rand(n, h, w, generator=g) > 0.5)
        out.append(s)
    return out


@pytest.mark.parametrize("name,options,num_sets", [("mask2former_r50.py", M2F_TINY, 4),
                                                   ("maskformer_r50.py", MF_TINY, 2)])
def test_loss_and_predict_modes(name, options, num_sets):
    torch.manual_seed(0)
    model = build_model(tiny(name, options))
    images = [torch.randint(0, 256, (3, 60, 70), dtype=torch.uint8), torch.randint(0, 256, (3, 50, 64), dtype=torch.uint8)]
    data = model.data_preprocessor(dict(inputs=images, data_samples=samples([(60, 70), (50, 64)])), True)
    assert data["inputs"].shape == (2, 3, 64, 96)  # padded to a multiple of 32
    assert data["data_samples"][0].gt.masks.shape == (3, 64, 96)
    losses = model(**data, mode="loss")
    assert len(losses) == 3 * num_sets and all(torch.isfinite(v) for v in losses.values())
    assert {"loss_ce", "loss_mask", "loss_dice", f"loss_ce_{num_sets - 2}"} <= set(losses)
    sum(losses.values()).backward()
    assert model.transformer_decoder.class_embed.weight.grad.abs().sum() > 0
    model.eval()
    out = model(**model.data_preprocessor(dict(inputs=images, data_samples=samples([(60, 70), (50, 64)]))),
                mode="predict")
    assert out[0].pred["sem_seg"].shape == (5, 120, 140)  # original size
    assert out[1].pred["sem_seg"].shape == (5, 100, 128)
    if name.startswith("mask2former"):
        pan, segments = out[0].pred["panoptic_seg"]
        assert pan.shape == (120, 140) and all(s["id"] in pan.unique().tolist() for s in segments)
        assert out[0].pred["instances"]["masks"].shape[1:] == (120, 140)
    raw = model(data["inputs"], mode="tensor")
    assert len(raw) == num_sets and raw.pred_masks.shape == (2, 6, 16, 24)


def test_pixel_decoder_levels_must_fit_the_transformer_decoder():
    cfg = tiny("mask2former_r50.py", M2F_TINY)
    cfg.model.pixel_decoder = dict(type="FPNPixelDecoder", conv_dim=32, mask_dim=32, num_multi_scale_levels=2)
    with pytest.raises(ValueError, match=r"MultiScaleMaskedTransformerDecoder needs 3 multi-scale feature levels, "
                                         r"but pixel decoder FPNPixelDecoder provides 2"):
        build_model(cfg)
    cfg = tiny("maskformer_r50.py", MF_TINY)
    cfg.model.transformer_decoder.in_feature = "encoder"
    with pytest.raises(ValueError, match="in_feature='encoder', but pixel decoder FPNPixelDecoder returns no encoder"):
        build_model(cfg)
    cfg.model.transformer_decoder.in_feature = "res6"
    with pytest.raises(ValueError, match=r"'res6'.*backbone output \['res2', 'res3', 'res4', 'res5'\]"):
        build_model(cfg)


def test_swap_pixel_decoder_by_name_only():
    """MaskFormer's FPN under Mask2Former's decoder (the paper's Table 4e ablation) from config alone."""
    cfg = tiny("mask2former_r50.py", M2F_TINY)
    cfg.model.pixel_decoder = dict(type="FPNPixelDecoder", conv_dim=32, mask_dim=32)
    model = build_model(cfg)
    out = model(torch.randn(1, 3, 64, 64), mode="tensor")
    assert out.pred_logits.shape == (1, 6, 6)


def test_build_checks_the_declared_multi_scale_order():
    class CoarsestLast(FPNPixelDecoder):
        def output_shape(self):
            shapes = super().output_shape()
            return dict(shapes, multi_scale=shapes["multi_scale"][::-1])

    cfg = tiny("mask2former_r50.py", M2F_TINY)
    cfg.model.pixel_decoder = dict(type=CoarsestLast, conv_dim=32, mask_dim=32)
    with pytest.raises(ValueError, match=r"pixel decoder CoarsestLast: multi_scale levels must be ordered low -> high "
                                         r"resolution .* got strides \[8, 16, 32\]"):
        build_model(cfg)


def test_size_divisor_must_be_a_multiple_of_the_backbone_size_divisibility():
    class Needs32(ResNet):
        def __init__(self, **kwargs) -> None:  # noqa: ANN003
            super().__init__(**kwargs)
            self.size_divisibility = 32

    cfg = tiny("mask2former_r50.py", M2F_TINY)
    cfg.model.backbone.type = Needs32
    cfg.model.data_preprocessor.size_divisor = 8
    with pytest.raises(ValueError, match=r"size_divisor=8 is not a multiple of backbone Needs32's "
                                         r"size_divisibility=32.*size_divisor to a multiple of 32"):
        build_model(cfg)
    cfg.model.data_preprocessor.size_divisor = 64
    assert build_model(cfg).backbone.size_divisibility == 32


def test_the_backbones_need_no_padding():
    """ResNet and Swin declare size_divisibility 1: an unpadded 50 x 70 batch runs end to end."""
    cfg = tiny("mask2former_r50.py", {**M2F_TINY, "model.data_preprocessor.size_divisor": 1})
    model = build_model(cfg).eval()
    assert model.backbone.size_divisibility == 1
    with torch.no_grad():
        out = model(torch.randn(1, 3, 50, 70), mode="tensor")
    assert out.pred_masks.shape == (1, 6, 13, 18) and torch.isfinite(out.pred_masks).all()
