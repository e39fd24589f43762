"""projects/pixel_decoders (Mask2Former Table 4e): the deformable conv equals a conv at zero offsets and samples
where its offsets say, FaPN's modules and BiFPN's fusion do what their papers define, Semantic FPN extends
the core FPN, and every variant builds on both bases and trains on toy data."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from variant_probes import build_variant, forward_toy, train_toy_variant

from projects.pixel_decoders.ablation_variants import VARIANTS
from projects.pixel_decoders.pixel_decoders_ablation import (
    BiFPNPixelDecoder, DeformConv2d, FaPNPixelDecoder, FeatureAlignment, FeatureSelection, FusionNode,
    SemanticFPNPixelDecoder, deform_conv2d,
)
from segformers.models.pixel_decoders import FPNPixelDecoder, TransformerEncoderPixelDecoder
from segformers.testing import BACKBONE_SHAPES, feature_bank


@pytest.mark.parametrize("padding,dilation,groups", [(1, 1, 1), (2, 2, 4), (0, 1, 2)])
def test_deform_conv_with_zero_offsets_is_a_conv(padding, dilation, groups):
    torch.manual_seed(0)
    x, weight, bias = torch.randn(2, 8, 7, 9), torch.randn(5, 8, 3, 3), torch.randn(5)
    size = (7 + 2 * padding - 2 * dilation, 9 + 2 * padding - 2 * dilation)
    offset = torch.zeros(2, 2 * groups * 9, *size)
    expected = F.conv2d(x, weight, bias, padding=padding, dilation=dilation)
    out = deform_conv2d(x, offset, weight, bias, padding=padding, dilation=dilation, deform_groups=groups)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    ones = torch.ones(2, groups * 9, *size)
    torch.testing.assert_close(deform_conv2d(x, offset, weight, bias, padding=padding, dilation=dilation,
                                             mask=ones, deform_groups=groups), expected, atol=1e-5, rtol=1e-5)


def test_deform_conv_samples_at_its_offsets():
    torch.manual_seed(0)
    x, weight = torch.randn(1, 4, 6, 8), torch.randn(3, 4, 3, 3)
    offset = torch.zeros(1, 18, 6, 8)
    offset[:, 0::2], offset[:, 1::2] = -1.0, 1.0  # every tap one row up, one column right
    shifted = torch.zeros_like(x)
    shifted[..., 1:, :-1] = x[..., :-1, 1:]
    out = deform_conv2d(x, offset, weight, padding=1)
    torch.testing.assert_close(out[..., 1:-1, 1:-1], F.conv2d(shifted, weight, padding=1)[..., 1:-1, 1:-1],
                               atol=1e-5, rtol=1e-5)
    offset = torch.zeros(1, 18, 6, 8)
    offset[:, 1::2] = 0.5  # half a pixel to the right: the mean of two neighbours (bilinear)
    half = 0.5 * (x + torch.cat([x[..., 1:], torch.zeros_like(x[..., :1])], -1))
    torch.testing.assert_close(deform_conv2d(x, offset, weight, padding=1)[..., 1:],
                               F.conv2d(half, weight, padding=1)[..., 1:], atol=1e-5, rtol=1e-5)


def test_deform_conv_rejects_a_wrong_offset_shape():
    layer = DeformConv2d(4, 4, 3, deform_groups=2)
    assert layer.offset_channels == 36
    with pytest.raises(ValueError, match=r"offset must be \(1, 36, 5, 5\)"):
        layer(torch.randn(1, 4, 5, 5), torch.zeros(1, 18, 5, 5))
    with pytest.raises(ValueError, match="divisible by deform_groups"):
        DeformConv2d(6, 4, 3, deform_groups=4)


def test_feature_selection_is_channel_attention_then_projection():
    torch.manual_seed(0)
    fsm = FeatureSelection(6, 8, norm="").eval()
    x = torch.randn(2, 6, 5, 7)
    weight = torch.sigmoid(F.conv2d(x.mean((2, 3), keepdim=True), fsm.attention.weight, fsm.attention.bias))
    torch.testing.assert_close(fsm(x), fsm.project(x * (1 + weight)))


def test_feature_alignment_starts_as_a_half_modulated_conv_and_learns_offsets():
    torch.manual_seed(0)
    fam = FeatureAlignment(8, deform_groups=2)
    lateral, top = torch.randn(1, 8, 8, 10), torch.randn(1, 8, 4, 5)
    up = F.interpolate(top, size=(8, 10), mode="bilinear", align_corners=False)
    expected = lateral + F.relu(0.5 * F.conv2d(up, fam.deform.weight, fam.deform.bias, padding=1))
    out = fam(lateral, top)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    out.sum().backward()
    assert fam.offset.weight.grad.abs().max() > 0  # the offsets get a gradient through grid_sample


def test_bifpn_fusion_weights_are_normalised_and_non_negative():
    node = FusionNode(4, 3, norm="", separable=True)
    with torch.no_grad():
        node.weights.copy_(torch.tensor([-1.0, 2.0, 3.0]))
    w = node.fusion_weights()
    torch.testing.assert_close(w, torch.tensor([0.0, 2.0, 3.0]) / (5.0 + 1e-4))
    assert (w >= 0).all() and abs(float(w.detach().sum()) - 1) < 1e-4
    xs = [torch.randn(1, 4, 3, 3) for _ in range(3)]
    fused = F.silu(w[1] * xs[1] + w[2] * xs[2])
    torch.testing.assert_close(node(xs), node.pointwise(node.depthwise(fused)))


def test_bifpn_repeats_and_validation():
    decoder = BiFPNPixelDecoder(input_shape=BACKBONE_SHAPES, conv_dim=32, mask_dim=16, num_repeats=3)
    assert len(decoder.layers) == 3 and len(decoder.layers[0].top_down) == 3 and len(decoder.layers[0].bottom_up) == 3
    assert isinstance(decoder.layers[0].top_down[0].depthwise, torch.nn.Conv2d)
    plain = BiFPNPixelDecoder(input_shape=BACKBONE_SHAPES, conv_dim=32, mask_dim=16, separable=False)
    assert plain.layers[0].top_down[0].pointwise.kernel_size == (3, 3)
    with pytest.raises(ValueError, match="num_repeats must be >= 1"):
        BiFPNPixelDecoder(input_shape=BACKBONE_SHAPES, conv_dim=32, num_repeats=0)
    with pytest.raises(ValueError, match="deform_groups=3 must divide conv_dim=32"):
        FaPNPixelDecoder(input_shape=BACKBONE_SHAPES, conv_dim=32, deform_groups=3)


def test_semantic_fpn_is_the_core_fpn_plus_the_semantic_head():
    torch.manual_seed(0)
    kwargs = dict(input_shape=BACKBONE_SHAPES, conv_dim=32, mask_dim=16)
    semantic, fpn = SemanticFPNPixelDecoder(**kwargs).eval(), FPNPixelDecoder(**kwargs).eval()
    missing, unexpected = semantic.load_state_dict(fpn.state_dict(), strict=False)
    assert unexpected == [] and all(k.startswith("semantic_head.") or k.startswith("mask_features") for k in missing)
    assert [len(h.convs) for h in semantic.semantic_head] == [3, 2, 1, 1]  # 1/32, 1/16, 1/8, 1/4
    assert [h.num_upsamples for h in semantic.semantic_head] == [3, 2, 1, 0]
    features = feature_bank(BACKBONE_SHAPES)
    with torch.no_grad():
        a, b = semantic(features), fpn(features)
    for x, y in zip(a.multi_scale_features, b.multi_scale_features):
        torch.testing.assert_close(x, y)  # the decoder's maps are the FPN's
    assert a.mask_features.shape == (2, 16, 16, 24)


ENCODER_KW = dict(transformer_enc_layers=2, transformer_nheads=4, transformer_dim_feedforward=48)


def test_semantic_fpn_with_the_encoder_extends_the_transformer_encoder_fpn():
    torch.manual_seed(0)
    kwargs = dict(input_shape=BACKBONE_SHAPES, conv_dim=32, mask_dim=16)
    semantic = SemanticFPNPixelDecoder(**kwargs, **ENCODER_KW).eval()
    core = TransformerEncoderPixelDecoder(**kwargs, **ENCODER_KW, transformer_dropout=0.0).eval()
    renamed = {k.replace("transformer.", "encoder.transformer.", 1) if k.startswith("transformer.") else k: v
               for k, v in core.state_dict().items()}
    missing, unexpected = semantic.load_state_dict(renamed, strict=False)
    assert unexpected == [] and all(k.startswith(("semantic_head.", "mask_features")) for k in missing)
    assert semantic.layer_4.in_channels == 32  # the coarsest 3x3 reads the encoder's conv_dim channels
    assert semantic.output_shape()["encoder"].stride == 32
    features = feature_bank(BACKBONE_SHAPES)
    with torch.no_grad():
        a, b = semantic(features), core(features)
    torch.testing.assert_close(a.encoder_features, b.encoder_features)
    for x, y in zip(a.multi_scale_features, b.multi_scale_features):
        torch.testing.assert_close(x, y)  # the decoder's maps are the encoder FPN's


def test_bifpn_with_the_encoder_encodes_the_coarsest_lateral_before_the_passes():
    torch.manual_seed(0)
    decoder = BiFPNPixelDecoder(input_shape=BACKBONE_SHAPES, conv_dim=32, mask_dim=16, **ENCODER_KW).eval()
    plain = BiFPNPixelDecoder(input_shape=BACKBONE_SHAPES, conv_dim=32, mask_dim=16).eval()
    assert len(decoder.encoder.transformer.encoder.layers) == 2 and plain.encoder is None
    assert decoder.output_shape()["encoder"].stride == 32 and "encoder" not in plain.output_shape()
    features = feature_bank(BACKBONE_SHAPES)
    with torch.no_grad():
        out = decoder(features)
        lateral = decoder.laterals[0](features["res5"])
        encoded = decoder.encoder(lateral)
        maps = [encoded] + [lat(features[f]) for lat, f in zip(decoder.laterals[1:], decoder.in_features[1:])]
        expected = decoder.layers[0](maps)
    torch.testing.assert_close(out.encoder_features, encoded)
    assert (encoded - lateral).abs().max() > 1e-3  # the encoder changes the map
    torch.testing.assert_close(out.mask_features, decoder.mask_features(expected[-1]))
    with pytest.raises(ValueError, match="transformer_enc_layers must be >= 0"):
        SemanticFPNPixelDecoder(input_shape=BACKBONE_SHAPES, conv_dim=32, transformer_enc_layers=-1)
    with pytest.raises(ValueError, match="must be divisible by transformer_nheads"):
        BiFPNPixelDecoder(input_shape=BACKBONE_SHAPES, conv_dim=32, transformer_enc_layers=1, transformer_nheads=5)


@pytest.mark.parametrize("base", ["toy", "paper"])
@pytest.mark.parametrize("variant", VARIANTS, ids=[v["name"] for v in VARIANTS])
def test_every_variant_builds_on_both_bases(variant, base):
    model = build_variant(base, variant, meta=base == "paper")
    if base == "toy":
        forward_toy(model)  # the toy base is small enough to build for real and run
    decoder = model.pixel_decoder
    assert type(decoder).__name__ == variant["options"]["model.pixel_decoder"]["type"]
    shapes = decoder.output_shape()
    strides = [8, 16, 32] if base == "paper" else [4, 8, 16]
    channels = 256 if base == "paper" else 64
    assert shapes["mask_features"].stride == 4 and shapes["mask_features"].channels == channels
    assert [s.stride for s in shapes["multi_scale"]] == strides[::-1]
    assert {s.channels for s in shapes["multi_scale"]} == {channels}
    if variant["name"] != "fapn":  # the FPN family carries the base's encoder depth on the coarsest map
        assert shapes["encoder"].stride == strides[-1]
        depth = 6 if base == "paper" else 1
        encoder = decoder.transformer if variant["name"] == "fpn" else decoder.encoder.transformer
        assert len(encoder.encoder.layers) == depth



@pytest.mark.parametrize("name", ["semantic_fpn", "fapn", "bifpn", "fpn"])
def test_variant_trains_a_few_toy_iterations(name, toy_root, tmp_path):
    variant = next(v for v in VARIANTS if v["name"] == name)
    runner, _, before = train_toy_variant(variant, toy_root, tmp_path, part="pixel_decoder")
    decoder = runner.model.pixel_decoder
    assert type(decoder).__name__ == variant["options"]["model.pixel_decoder"]["type"]
    after = decoder.state_dict()
    changed = [k for k in before if before[k].is_floating_point() and (after[k] - before[k]).abs().max() > 0]
    assert "mask_features.weight" in changed and len(changed) > len(before) // 2
