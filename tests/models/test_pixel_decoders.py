"""Pixel decoders: output contract, official parameter counts, HF parity and the fp32 island."""
from __future__ import annotations

import pytest
import torch

from segformers.checkpoint.hf_pixel_decoders import (
    HF_PIXEL_DECODER_PREFIX, convert_hf_pixel_decoder, hf_pixel_decoder_cfg,
)
from segformers.models.pixel_decoders import (
    FPNPixelDecoder, MSDeformAttnPixelDecoder, TransformerEncoderPixelDecoder,
)
from segformers.models.pixel_decoders.transformer_encoder import DetrEncoderLayer
from segformers.registry import PIXEL_DECODERS
from segformers.structures import ShapeSpec

STRIDES = {"res2": 4, "res3": 8, "res4": 16, "res5": 32}
RESNET = {"res2": 256, "res3": 512, "res4": 1024, "res5": 2048}
SWIN_T = {"res2": 96, "res3": 192, "res4": 384, "res5": 768}
TINY = {"res2": 8, "res3": 12, "res4": 16, "res5": 24}
ODD_SIZES = {"res2": (17, 23), "res3": (9, 12), "res4": (5, 6), "res5": (3, 3)}  # a 65x89 image
SMALL = dict(conv_dim=32, mask_dim=16)
SMALL_ENC = dict(transformer_enc_layers=2, transformer_nheads=4, transformer_dim_feedforward=40)


def spec(channels: dict, strides: dict = STRIDES) -> dict[str, ShapeSpec]:
    """A backbone's ``output_shape()`` with these channels and strides."""
    return {k: ShapeSpec(c, strides[k]) for k, c in channels.items()}


def tiny_features(batch: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(batch, TINY[k], *ODD_SIZES[k], generator=g) for k in TINY}


def build(name: str, channels: dict = TINY, **kwargs):
    default_args = dict(input_shape=spec(channels))
    return PIXEL_DECODERS.build(dict(type=name, **kwargs), default_args=default_args)


@pytest.mark.parametrize(
    "name, kwargs, encoder",
    [
        ("FPNPixelDecoder", {}, False),
        ("TransformerEncoderPixelDecoder", SMALL_ENC, True),
        ("MSDeformAttnPixelDecoder", SMALL_ENC, True),
    ],
)
def test_output_contract_on_odd_sizes(name, kwargs, encoder):
    torch.manual_seed(0)
    decoder = build(name, **SMALL, **kwargs).eval()
    with torch.no_grad():
        out = decoder(tiny_features())
    assert out.mask_features.shape == (2, 16, 17, 23)
    assert [tuple(f.shape) for f in out.multi_scale_features] == [(2, 32, 3, 3), (2, 32, 5, 6), (2, 32, 9, 12)]
    shapes = decoder.output_shape()
    assert shapes["mask_features"] == ShapeSpec(16, 4)
    assert shapes["multi_scale"] == [ShapeSpec(32, s) for s in (32, 16, 8)]
    if encoder:
        assert shapes["encoder"] == ShapeSpec(32, 32) and out.encoder_features.shape == (2, 32, 3, 3)
    else:
        assert "encoder" not in shapes and out.encoder_features is None
    assert all(torch.isfinite(t).all() for t in [out.mask_features, *out.multi_scale_features])
    assert out.mask_features.std() > 1e-3


@pytest.mark.parametrize(
    "cls, channels, expected",
    [
        (MSDeformAttnPixelDecoder, RESNET, 6_035_904),
        (MSDeformAttnPixelDecoder, SWIN_T, 5_421_504),
        (FPNPixelDecoder, RESNET, 7_540_480),
        (FPNPixelDecoder, SWIN_T, 4_304_640),
        # FPN(ResNet) - layer_4(2048->256) 4,719,104 + layer_4(256->256) 590,336 + input_proj 524,544
        # + 6 DETR encoder layers x 1,315,072
        (TransformerEncoderPixelDecoder, RESNET, 11_826_688),
    ],
)
def test_parameter_counts_match_official(cls, channels, expected):
    decoder = cls(input_shape=spec(channels))
    assert sum(p.numel() for p in decoder.parameters()) == expected


def test_official_state_dict_names():
    m2f = MSDeformAttnPixelDecoder(input_shape=spec(TINY), **SMALL, **SMALL_ENC)
    keys = set(m2f.state_dict())
    assert {"input_proj.0.0.weight", "input_proj.2.1.bias", "transformer.level_embed", "adapter_1.weight",
            "adapter_1.norm.weight", "layer_1.norm.bias", "mask_features.bias",
            "transformer.encoder.layers.1.self_attn.sampling_offsets.bias",
            "transformer.encoder.layers.0.norm2.weight"} <= keys
    assert m2f.input_proj[0][0].in_channels == TINY["res5"] and m2f.input_proj[2][0].in_channels == TINY["res3"]
    assert m2f.mask_features.kernel_size == (1, 1)
    te = TransformerEncoderPixelDecoder(input_shape=spec(TINY), **SMALL, **SMALL_ENC)
    keys = set(te.state_dict())
    assert {"input_proj.weight", "input_proj.bias", "layer_4.weight", "layer_4.norm.weight", "adapter_3.weight",
            "transformer.encoder.layers.1.self_attn.in_proj_weight",
            "transformer.encoder.layers.1.self_attn.out_proj.bias",
            "transformer.encoder.layers.0.linear2.weight", "mask_features.weight"} <= keys
    assert te.layer_4.in_channels == 32 and te.mask_features.kernel_size == (3, 3)


def test_bad_configuration_errors():
    with pytest.raises(ValueError, match=r"asks for \['res5'\].*provides \['res2', 'res3', 'res4'\]"):
        FPNPixelDecoder(input_shape=spec({k: TINY[k] for k in ("res2", "res3", "res4")}))
    with pytest.raises(ValueError, match="num_multi_scale_levels=5"):
        FPNPixelDecoder(input_shape=spec(TINY), num_multi_scale_levels=5, **SMALL)
    with pytest.raises(ValueError, match="common_stride 2 needs 2 in_features finer than stride 8"):
        MSDeformAttnPixelDecoder(input_shape=spec(TINY), common_stride=2, **SMALL)
    with pytest.raises(ValueError, match="common_stride 4 needs 1 in_features finer than stride 8"):
        MSDeformAttnPixelDecoder(
            input_shape=spec(TINY), in_features=["res3", "res4", "res5"], **SMALL
        )


def test_msdeformattn_stride_2_mask_features_from_a_stem_level():
    """A ResNet ``stem`` output (stride 2) as the one FPN level: mask features at 1/2 (common_stride=2)."""
    g = torch.Generator().manual_seed(0)
    chans, strides = {"stem": 6, "res2": 8, "res3": 12, "res4": 16}, {"stem": 2, "res2": 4, "res3": 8, "res4": 16}
    sizes = {"stem": (32, 40), "res2": (16, 20), "res3": (8, 10), "res4": (4, 5)}
    feats = {k: torch.randn(2, chans[k], *sizes[k], generator=g) for k in chans}
    pd = MSDeformAttnPixelDecoder(
        input_shape=spec(chans, strides), in_features=list(chans), common_stride=2,
        transformer_in_features=["res2", "res3", "res4"], **SMALL, **SMALL_ENC,
    )
    out = pd(feats)
    assert pd.fpn_in_features == ["stem"] and pd.lateral_convs[0].in_channels == 6
    assert out.mask_features.shape == (2, 16, 32, 40)
    assert [tuple(f.shape[-2:]) for f in out.multi_scale_features] == [(4, 5), (8, 10), (16, 20)]


def manual_detr_layer(layer: DetrEncoderLayer, src, pos, pre_norm: bool):
    """DETR encoder layer written out: packed q/k/v rows [0:C], [C:2C], [2C:3C], softmax(qk^T / sqrt(d))."""
    c, heads = src.shape[-1], layer.self_attn.num_heads
    w, b = layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias

    def attend(x):
        q = (x + pos) @ w[:c].T + b[:c]
        k = (x + pos) @ w[c:2 * c].T + b[c:2 * c]
        v = x @ w[2 * c:].T + b[2 * c:]
        split = lambda t: t.view(t.shape[0], t.shape[1], heads, -1).transpose(1, 2)  # noqa: E731
        attn = (split(q) @ split(k).transpose(-1, -2) / (c // heads) ** 0.5).softmax(-1)
        return layer.self_attn.out_proj((attn @ split(v)).transpose(1, 2).reshape(x.shape))

    ffn = lambda x: layer.linear2(torch.relu(layer.linear1(x)))  # noqa: E731
    if pre_norm:
        src = src + attend(layer.norm1(src))
        return src + ffn(layer.norm2(src))
    src = layer.norm1(src + attend(src))
    return layer.norm2(src + ffn(src))


@pytest.mark.parametrize("pre_norm", [False, True])
def test_detr_encoder_layer_matches_explicit_math(pre_norm):
    torch.manual_seed(0)
    layer = DetrEncoderLayer(d_model=16, nhead=4, dim_feedforward=24, dropout=0.1, pre_norm=pre_norm).eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(torch.randn_like(p) * 0.2)
        src, pos = torch.randn(2, 7, 16), torch.randn(2, 7, 16)
        expected = manual_detr_layer(layer, src, pos, pre_norm)
        torch.testing.assert_close(layer(src, pos), expected, atol=1e-5, rtol=1e-5)


def test_transformer_encoder_decoder_wiring():
    torch.manual_seed(0)
    decoder = TransformerEncoderPixelDecoder(input_shape=spec(TINY), **SMALL, **SMALL_ENC).eval()
    feats = tiny_features()
    with torch.no_grad():
        out = decoder(feats)
        res5 = feats["res5"]
        encoded = decoder.transformer(decoder.input_proj(res5), decoder.pe_layer(res5))
        torch.testing.assert_close(out.encoder_features, encoded)
        torch.testing.assert_close(out.multi_scale_features[0], decoder.layer_4(encoded))


def test_msdeformattn_under_autocast_keeps_only_the_sampling_in_fp32(monkeypatch):
    """bf16 autocast: convolutions and projections in bf16, the deformable sampling core fed float32 (the
    official op's fp32 island), outputs within bf16 rounding of the float32 decoder."""
    from segformers.models.layers import ms_deform_attn as msda

    torch.manual_seed(0)
    decoder = MSDeformAttnPixelDecoder(input_shape=spec(TINY), **SMALL, **SMALL_ENC).eval()
    feats = tiny_features()
    seen = []
    real = msda.ms_deform_attn

    def spy(value, shapes, loc, attn, **kw):  # noqa: ANN001, ANN202
        seen.append((value.dtype, loc.dtype, attn.dtype, torch.is_autocast_enabled("cpu")))
        return real(value, shapes, loc, attn, **kw)

    monkeypatch.setattr(msda, "ms_deform_attn", spy)
    with torch.no_grad():
        ref = decoder(feats)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = decoder(feats)
    assert seen[-1] == (torch.float32, torch.float32, torch.float32, False)
    assert out.mask_features.dtype == torch.bfloat16  # the last 1x1 conv ran in bf16
    lows, highs = [out.mask_features, *out.multi_scale_features], [ref.mask_features, *ref.multi_scale_features]
    for low, high in zip(lows, highs):
        err = (low.float() - high).norm() / high.norm()
        assert err < 0.02, err  # bf16 has 8 significant bits: ~0.4% per rounding


# ------------------------------------------------------------------ parity with Hugging Face
hf_utils = pytest.importorskip("tests.hf_utils")
transformers = hf_utils.transformers


def swin_backbone():
    return transformers.SwinConfig(
        image_size=64, patch_size=4, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=2,
        out_features=["stage1", "stage2", "stage3", "stage4"],
    )


def resnet_backbone():
    return transformers.ResNetConfig(
        embedding_size=8, hidden_sizes=[8, 12, 16, 24], depths=[1, 1, 1, 1], layer_type="basic",
        out_features=["stage1", "stage2", "stage3", "stage4"],
    )


def hf_mask2former(backbone):
    cfg = transformers.Mask2FormerConfig(
        backbone_config=backbone, feature_size=32, mask_feature_size=32, hidden_dim=32,
        encoder_feedforward_dim=48, encoder_layers=2, decoder_layers=2, num_attention_heads=4, num_queries=3,
        dim_feedforward=32,
    )
    return transformers.Mask2FormerForUniversalSegmentation(cfg)


def hf_maskformer(backbone):
    detr = dict(model_type="detr", d_model=32, decoder_layers=1, encoder_layers=1, num_queries=3,
                decoder_attention_heads=2, encoder_attention_heads=2, decoder_ffn_dim=32, encoder_ffn_dim=32)
    cfg = transformers.MaskFormerConfig(
        backbone_config=backbone, fpn_feature_size=32, mask_feature_size=16, decoder_config=detr
    )
    return transformers.MaskFormerForInstanceSegmentation(cfg)


def converted(hf_model, feats):
    """Our decoder built from the saved HF config, loaded from the saved HF weights (strictly)."""
    state, config = hf_utils.hf_saved_state_dict(hf_model)
    cfg = hf_pixel_decoder_cfg(config)
    ours = PIXEL_DECODERS.build(cfg, default_args=dict(input_shape=spec({k: v.shape[1] for k, v in feats.items()})))
    ours.load_state_dict(convert_hf_pixel_decoder(state, config, HF_PIXEL_DECODER_PREFIX), strict=True)
    assert not [k for k in state if k.startswith(HF_PIXEL_DECODER_PREFIX)]  # every decoder key was consumed
    return ours.eval(), cfg


def run_hf(hf_model, pixel_values, pixel_mask=None):
    with torch.no_grad():
        out = hf_model.model(pixel_values, pixel_mask=pixel_mask, output_hidden_states=True)
    return out, dict(zip(["res2", "res3", "res4", "res5"], out.encoder_hidden_states))


def padding_mask(pixel_values):
    mask = torch.ones(pixel_values.shape[0], *pixel_values.shape[-2:], dtype=torch.long)
    mask[0, :, -20:] = 0
    return mask


@pytest.mark.parametrize("backbone", [swin_backbone, resnet_backbone])
def test_mask2former_pixel_decoder_matches_hf(backbone):
    torch.manual_seed(0)
    hf_model = hf_utils.randomize_(hf_mask2former(backbone()).eval(), seed=1)
    pixel_values = torch.randn(2, 3, 65, 89, generator=torch.Generator().manual_seed(2))
    out, feats = run_hf(hf_model, pixel_values)
    ours, cfg = converted(hf_model, feats)
    assert cfg["type"] == "MSDeformAttnPixelDecoder" and cfg["transformer_enc_layers"] == 2
    with torch.no_grad():
        mine = ours(feats)
    # HF: pixel_decoder_last_hidden_state = mask features, pixel_decoder_hidden_states = (1/32, 1/16, 1/8)
    torch.testing.assert_close(mine.mask_features, out.pixel_decoder_last_hidden_state, rtol=0, atol=1e-5)
    assert len(out.pixel_decoder_hidden_states) == 3
    for a, b in zip(mine.multi_scale_features, out.pixel_decoder_hidden_states):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    assert out.pixel_decoder_last_hidden_state.abs().mean() > 1e-2
    # HF accepts a pixel mask but ignores it (the decoder builds all-False padding masks itself)
    masked, _ = run_hf(hf_model, pixel_values, padding_mask(pixel_values))
    assert torch.equal(masked.pixel_decoder_last_hidden_state, out.pixel_decoder_last_hidden_state)


@pytest.mark.parametrize("backbone", [resnet_backbone, swin_backbone])
def test_maskformer_pixel_decoder_matches_hf(backbone):
    torch.manual_seed(0)
    hf_model = hf_utils.randomize_(hf_maskformer(backbone()).eval(), seed=3)
    pixel_values = torch.randn(2, 3, 65, 89, generator=torch.Generator().manual_seed(4))
    out, feats = run_hf(hf_model, pixel_values)
    ours, cfg = converted(hf_model, feats)
    assert cfg["type"] == "FPNPixelDecoder"
    with torch.no_grad():
        mine = ours(feats)
        hf_top = hf_model.model.pixel_level_module.decoder.fpn.stem(feats["res5"])
    torch.testing.assert_close(mine.mask_features, out.pixel_decoder_last_hidden_state, rtol=0, atol=1e-5)
    # HF's FPN returns the maps after each lateral step (1/16, 1/8, 1/4); its 1/32 map is the stem output
    hf_levels = [hf_top, *out.pixel_decoder_hidden_states[:2]]
    for a, b in zip(mine.multi_scale_features, hf_levels):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    masked, _ = run_hf(hf_model, pixel_values, padding_mask(pixel_values))
    assert torch.equal(masked.pixel_decoder_last_hidden_state, out.pixel_decoder_last_hidden_state)


def test_conversion_rejects_unknown_keys_and_models():
    state = {HF_PIXEL_DECODER_PREFIX + "mask_projection.weight": torch.zeros(1),
             HF_PIXEL_DECODER_PREFIX + "mystery.weight": torch.zeros(1)}
    with pytest.raises(KeyError, match="mystery.weight"):
        convert_hf_pixel_decoder(state, {"model_type": "mask2former"}, HF_PIXEL_DECODER_PREFIX)
    assert len(state) == 2  # nothing popped on failure
    with pytest.raises(ValueError, match="model_type='oneformer'"):
        hf_pixel_decoder_cfg({"model_type": "oneformer"})
