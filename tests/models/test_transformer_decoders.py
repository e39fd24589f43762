"""Transformer decoders: shapes, parameter counts, masked attention, and parity with Hugging Face."""
from __future__ import annotations

from functools import partial

import pytest
import torch

from segformers.checkpoint.hf import hf_criterion_cfg
from segformers.checkpoint.hf_transformer_decoders import convert_hf_transformer_decoder, hf_transformer_decoder_cfg
from segformers.models.layers.attention import MultiheadAttention
from segformers.models.transformer_decoders import masked_attention_mask
from segformers.registry import TRANSFORMER_DECODERS
from segformers.structures import ShapeSpec


def input_shape(in_channels: int, mask_dim: int) -> dict:
    """A spec bank whose ``res5`` and three ``multi_scale`` levels have ``in_channels``."""
    return {"res5": ShapeSpec(in_channels, 32), "multi_scale": [ShapeSpec(in_channels, s) for s in (32, 16, 8)],
            "mask_features": ShapeSpec(mask_dim, 4)}


def _m2f(**kw):
    cfg = dict(type="MultiScaleMaskedTransformerDecoder", num_classes=5, input_shape=input_shape(24, 8),
               hidden_dim=16, num_queries=6, nheads=2, dim_feedforward=32, dec_layers=4)
    return TRANSFORMER_DECODERS.build({**cfg, **kw}).eval()


def _mf(**kw):
    cfg = dict(type="StandardTransformerDecoder", num_classes=5, input_shape=input_shape(24, 8),
               hidden_dim=16, num_queries=6, nheads=2, dim_feedforward=32, dec_layers=3)
    return TRANSFORMER_DECODERS.build({**cfg, **kw}).eval()


def _ms_inputs(batch=2, channels=24, mask_dim=8, seed=0):
    """Three maps at 1/32, 1/16, 1/8 of a 64 x 96 image and 1/4 mask features."""
    g = torch.Generator().manual_seed(seed)
    feats = [torch.randn(batch, channels, 2 * s, 3 * s, generator=g) for s in (1, 2, 4)]
    return feats, torch.randn(batch, mask_dim, 16, 24, generator=g)


# ---------------------------------------------------------------------------------------------- shapes
def test_masked_decoder_returns_layers_plus_one_predictions():
    torch.manual_seed(0)
    dec = _m2f()
    feats, mask_features = _ms_inputs()
    out = dec(feats, mask_features)
    assert dec.in_feature == "multi_scale" and dec.num_feature_levels == 3
    assert len(out) == 5 and len(out.mask_logits) == 5
    assert all(c.shape == (2, 6, 6) for c in out.class_logits)
    assert all(m.shape == (2, 6, 16, 24) for m in out.mask_logits)
    assert out.pred_logits is out.class_logits[-1]
    assert all(torch.isfinite(m).all() for m in out.mask_logits)


def test_masked_decoder_default_is_official_nine_layers():
    dec = TRANSFORMER_DECODERS.build(
        dict(type="MultiScaleMaskedTransformerDecoder", num_classes=3, input_shape=input_shape(256, 256)))
    assert len(dec.transformer_cross_attention_layers) == 9 and len(dec.input_proj) == 3
    assert not any(k.startswith("input_proj") for k in dec.state_dict())  # identity projections


def test_standard_decoder_returns_every_layer_and_the_last_is_the_final_prediction():
    torch.manual_seed(0)
    deep = _mf()
    feats, mask_features = _ms_inputs()
    out_deep = deep(feats[:1], mask_features)
    stack = deep.transformer["decoder"]  # the last layer only, as tools/analysis/complexity.py counts it
    stack.forward = partial(stack.forward, intermediate=False)
    out_single = deep(feats[:1], mask_features)
    assert deep.in_feature == "res5" and deep.num_feature_levels == 1
    assert len(out_deep) == 3 and len(out_single) == 1
    assert out_deep.pred_logits.shape == (2, 6, 6) and out_deep.pred_masks.shape == (2, 6, 16, 24)
    torch.testing.assert_close(out_single.pred_logits, out_deep.pred_logits, rtol=0, atol=1e-6)
    torch.testing.assert_close(out_single.pred_masks, out_deep.pred_masks, rtol=0, atol=1e-6)
    # intermediate predictions differ from the final one (not a copy)
    assert (out_deep.class_logits[0] - out_deep.class_logits[-1]).abs().max() > 1e-3


def test_standard_decoder_applies_final_norm_to_every_layer():
    torch.manual_seed(0)
    dec = _mf()
    raw = []
    for layer in dec.transformer["decoder"].layers:
        layer.register_forward_hook(lambda m, i, o: raw.append(o))
    feats, mask_features = _ms_inputs()
    out = dec(feats[:1], mask_features)
    for j, hidden in enumerate(raw):
        expected = dec.class_embed(dec.transformer["decoder"].norm(hidden))
        torch.testing.assert_close(out.class_logits[j], expected, rtol=0, atol=1e-6)


def test_bad_inputs_raise_clear_errors():
    dec = _m2f()
    feats, mask_features = _ms_inputs()
    with pytest.raises(ValueError, match="expects a list of 3 feature map"):
        dec(feats[:2], mask_features)
    with pytest.raises(ValueError, match="in_channels=24"):
        dec([f[:, :5] for f in feats], mask_features)
    with pytest.raises(ValueError, match="mask_dim=8"):
        dec(feats, mask_features[:, :3])
    with pytest.raises(ValueError, match="expects a list of 1"):
        _mf()(feats[0], mask_features)
    with pytest.raises(ValueError, match="official 10 -> 9"):
        _m2f(dec_layers=0)


# ------------------------------------------------------------------------------------ parameter counts
def _num_params(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_match_official():
    m2f = TRANSFORMER_DECODERS.build(
        dict(type="MultiScaleMaskedTransformerDecoder", num_classes=133, input_shape=input_shape(256, 256)))
    mf = TRANSFORMER_DECODERS.build(
        dict(type="StandardTransformerDecoder", num_classes=150, input_shape=input_shape(2048, 256)))
    assert _num_params(m2f) == 14_493_062
    assert _num_params(mf) == 10_259_351


# ---------------------------------------------------------------------------------- masked attention
def test_attention_matches_torch_multihead_attention():
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(16, 4).eval()
    ours = MultiheadAttention(16, 4).eval()
    ours.load_state_dict(ref.state_dict())
    q, k = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    allowed = torch.rand(2, 5, 7) > 0.4
    allowed[..., 0] = True
    blocked = (~allowed).repeat_interleave(4, dim=0)  # [B*heads, Q, K], True = blocked
    expected = ref(q.transpose(0, 1), k.transpose(0, 1), k.transpose(0, 1), attn_mask=blocked)[0].transpose(0, 1)
    torch.testing.assert_close(ours(q, k, k, attn_mask=allowed.unsqueeze(1)), expected, rtol=0, atol=1e-6)


def test_attention_mask_threshold_resize_and_empty_row_fallback():
    logits = torch.full((1, 3, 4, 4), -5.0)
    logits[0, 1, :2] = 5.0  # query 1: top half
    logits[0, 2] = 5.0  # query 2: everywhere
    allowed = masked_attention_mask(logits, (2, 2))
    assert allowed.shape == (1, 1, 3, 4) and allowed.dtype == torch.bool
    assert allowed[0, 0, 0].all()  # empty mask -> attends everywhere
    assert allowed[0, 0, 1].tolist() == [True, True, False, False]
    assert allowed[0, 0, 2].all()


def test_empty_masks_attend_everywhere_without_nan():
    """All masks empty at every level behaves exactly like all masks full (unmasked attention)."""
    torch.manual_seed(0)
    dec = _m2f()
    feats, mask_features = _ms_inputs()
    mask_features = mask_features.abs() + 0.1
    outs = []
    for sign in (-1.0, 1.0):
        with torch.no_grad():
            dec.mask_embed.layers[-1].weight.zero_()
            dec.mask_embed.layers[-1].bias.fill_(sign)
        outs.append(dec(feats, mask_features))
    empty, full = outs
    assert all((m < 0).all() for m in empty.mask_logits)
    for c_empty, c_full in zip(empty.class_logits, full.class_logits):
        assert torch.isfinite(c_empty).all()
        torch.testing.assert_close(c_empty, c_full, rtol=0, atol=1e-6)
    torch.testing.assert_close(empty.pred_masks, -full.pred_masks, rtol=0, atol=1e-6)


@pytest.mark.parametrize("layer", [0, 1])
def test_masked_attention_ignores_features_outside_the_predicted_mask(layer):
    """Perturbing level features where a query's previous mask is background leaves that query's
    cross-attention output unchanged (the output right after the masked cross-attention, before the
    self-attention mixes queries), while queries that may look there change."""
    torch.manual_seed(0)
    dec = _m2f()
    feats, mask_features = _ms_inputs(seed=1)
    level = layer % 3
    captured = []
    dec.transformer_cross_attention_layers[layer].register_forward_hook(lambda m, i, o: captured.append(o))
    with torch.no_grad():
        out = dec(feats, mask_features)
        # the mask used by `layer` comes from prediction `layer`, resized to that level
        allowed = masked_attention_mask(out.mask_logits[layer], feats[level].shape[-2:])[:, 0]  # [B, Q, hw]
        counts = allowed.sum(-1)
        mixed = ((counts > 0) & (counts < allowed.shape[-1])).nonzero()
        assert len(mixed) > 0, "test setup: no query with a partial mask"
        b, q = mixed[0].tolist()
        outside = ~allowed[b, q]  # [hw]
        perturbed = [f.clone() for f in feats]
        noise = torch.randn(feats[level].shape[1], int(outside.sum())) * 10
        perturbed[level][b].flatten(1)[:, outside] += noise
        torch.testing.assert_close(perturbed[level][b].flatten(1)[:, ~outside], feats[level][b].flatten(1)[:, ~outside])
        dec(perturbed, mask_features)
    before, after = captured
    torch.testing.assert_close(after[b, q], before[b, q], rtol=0, atol=1e-6)
    sees_outside = (allowed[b] & outside).any(-1)  # queries of image b that may attend to perturbed pixels
    assert sees_outside.any()
    assert (after[b, sees_outside] - before[b, sees_outside]).abs().max() > 1e-3


# ------------------------------------------------------------------------------------- HF parity
def _tiny_swin():
    from transformers import SwinConfig

    return SwinConfig(embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4, image_size=64,
                      out_features=["stage1", "stage2", "stage3", "stage4"])


def _hf_state_and_config(model):
    from tests.hf_utils import hf_saved_state_dict

    return hf_saved_state_dict(model)


@pytest.mark.parametrize("feature_size,enforce,pre_norm", [(32, False, False), (32, True, True)])
def test_mask2former_parity_with_hf(feature_size, enforce, pre_norm):
    pytest.importorskip("transformers")
    from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation

    from tests.hf_utils import randomize_

    hf_cfg = Mask2FormerConfig(
        backbone_config=_tiny_swin(), feature_size=feature_size, mask_feature_size=24, hidden_dim=32,
        encoder_feedforward_dim=64, encoder_layers=1, decoder_layers=5, num_attention_heads=4, dim_feedforward=64,
        num_queries=6, num_labels=7, enforce_input_projection=enforce, pre_norm=pre_norm,
    )
    hf = randomize_(Mask2FormerForUniversalSegmentation(hf_cfg)).eval()
    with torch.no_grad():  # sharper masks: attention masks become decisive and non-trivial
        hf.get_submodule("model.transformer_module.decoder.mask_predictor.mask_embedder.2.0").weight.mul_(10)
    captured = {}
    hf.model.transformer_module.register_forward_pre_hook(
        lambda m, args, kwargs: captured.update(kwargs), with_kwargs=True)
    with torch.no_grad():
        hf_out = hf(torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(0)),
                    output_auxiliary_logits=True)

    state, config = _hf_state_and_config(hf)
    cfg = hf_transformer_decoder_cfg(config)
    assert cfg["dec_layers"] == 4 and cfg["nheads"] == 4 and cfg["enforce_input_project"] == enforce
    ours = TRANSFORMER_DECODERS.build(
        dict(cfg, num_classes=len(config["id2label"]), input_shape=input_shape(feature_size, 24))).eval()
    ours.load_state_dict(convert_hf_transformer_decoder(state, config, prefix=""))
    assert not [k for k in state if k.startswith(("model.transformer_module", "class_predictor"))]
    assert any(k.startswith("input_proj") for k in ours.state_dict()) == enforce

    feats, mask_features = list(captured["multi_scale_features"]), captured["mask_features"]
    assert [tuple(f.shape[-2:]) for f in feats] == [(2, 3), (4, 6), (8, 12)]  # low -> high resolution
    with torch.no_grad():
        out = ours(feats, mask_features)
    hf_classes = [a["class_queries_logits"] for a in hf_out.auxiliary_logits] + [hf_out.class_queries_logits]
    hf_masks = [a["masks_queries_logits"] for a in hf_out.auxiliary_logits] + [hf_out.masks_queries_logits]
    assert len(out) == len(hf_classes) == 5
    for j in range(5):
        torch.testing.assert_close(out.class_logits[j], hf_classes[j], rtol=0, atol=1e-4)
        torch.testing.assert_close(out.mask_logits[j], hf_masks[j], rtol=0, atol=1e-4)
    blocked = [(~masked_attention_mask(out.mask_logits[j], feats[j % 3].shape[-2:])).float().mean() for j in range(4)]
    assert any(0.05 < b < 0.95 for b in blocked), blocked  # the masks really restrict attention


def test_maskformer_parity_with_hf():
    """Final prediction equal to HF. HF's auxiliary outputs are (a) one extra prediction from the all-zero
    query input and (b) intermediate layers *without* the decoder's final LayerNorm; we check that the layer
    outputs agree by applying our heads to our un-normalised layer outputs, and that our intermediate
    predictions are the official LayerNorm'd ones."""
    pytest.importorskip("transformers")
    from transformers import DetrConfig, MaskFormerConfig, MaskFormerForInstanceSegmentation

    from tests.hf_utils import randomize_

    detr = DetrConfig(d_model=32, decoder_layers=3, decoder_attention_heads=4, decoder_ffn_dim=64, num_queries=6,
                      encoder_layers=1, encoder_attention_heads=4, encoder_ffn_dim=64)
    hf_cfg = MaskFormerConfig(backbone_config=_tiny_swin(), decoder_config=detr, fpn_feature_size=32,
                              mask_feature_size=24, num_labels=7, use_auxiliary_loss=True)
    hf = randomize_(MaskFormerForInstanceSegmentation(hf_cfg)).eval()
    captured = {}
    hf.model.transformer_module.register_forward_pre_hook(lambda m, args: captured.update(x=args[0]))
    with torch.no_grad():  # transformers 5.23 needs output_hidden_states=True with use_auxiliary_loss
        hf_out = hf(torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(0)),
                    output_auxiliary_logits=True, output_hidden_states=True)

    state, config = _hf_state_and_config(hf)
    cfg = hf_transformer_decoder_cfg(config)
    assert cfg["dec_layers"] == 3 and cfg["dropout"] == 0.1
    assert hf_criterion_cfg(config, "maskformer")["deep_supervision"]  # use_auxiliary_loss: the criterion's
    x, mask_features = captured["x"], hf_out.pixel_decoder_last_hidden_state
    assert x.shape == (2, 128, 2, 3)  # the backbone's last (1/32) feature
    ours = TRANSFORMER_DECODERS.build(
        dict(cfg, num_classes=len(config["id2label"]), input_shape=input_shape(x.shape[1], 24))).eval()
    ours.load_state_dict(convert_hf_transformer_decoder(state, config, prefix=""))
    assert not [k for k in state if k.startswith(("model.transformer_module", "class_predictor", "mask_embedder"))]

    raw = []
    for layer in ours.transformer["decoder"].layers:
        layer.register_forward_hook(lambda m, i, o: raw.append(o))
    with torch.no_grad():
        out = ours([x], mask_features)

    def heads(hidden):
        masks = torch.einsum("bqc,bchw->bqhw", ours.mask_embed(hidden), mask_features)
        return ours.class_embed(hidden), masks

    aux = hf_out.auxiliary_logits
    assert len(out) == 3 and len(aux) == 3  # HF: zero-query prediction + 2 intermediate + final
    torch.testing.assert_close(out.pred_logits, hf_out.class_queries_logits, rtol=0, atol=1e-4)
    torch.testing.assert_close(out.pred_masks, hf_out.masks_queries_logits, rtol=0, atol=1e-4)
    with torch.no_grad():
        zero_cls, zero_masks = heads(torch.zeros(2, 6, 32))
        torch.testing.assert_close(aux[0]["class_queries_logits"], zero_cls, rtol=0, atol=1e-5)
        torch.testing.assert_close(aux[0]["masks_queries_logits"], zero_masks, rtol=0, atol=1e-5)
        for j in (1, 2):  # HF aux j = heads(un-normalised output of layer j - 1)
            cls, masks = heads(raw[j - 1])
            torch.testing.assert_close(aux[j]["class_queries_logits"], cls, rtol=0, atol=1e-4)
            torch.testing.assert_close(aux[j]["masks_queries_logits"], masks, rtol=0, atol=1e-4)
            cls, masks = heads(ours.transformer["decoder"].norm(raw[j - 1]))  # ours: official, normalised
            torch.testing.assert_close(out.class_logits[j - 1], cls, rtol=0, atol=1e-6)
            torch.testing.assert_close(out.mask_logits[j - 1], masks, rtol=0, atol=1e-6)


def test_hf_conversion_errors_and_plain_config():
    with pytest.raises(ValueError, match="model_type"):
        convert_hf_transformer_decoder({}, {"model_type": "detr"})
    with pytest.raises(KeyError, match="prefix"):
        convert_hf_transformer_decoder({}, {"model_type": "mask2former"})
    state = {"hf.model.transformer_module.queries_embedder.weight": torch.ones(2, 4)}
    with pytest.raises(KeyError, match="layers.0.self_attn.q_proj.weight"):  # the next missing key is named
        convert_hf_transformer_decoder(state, {"model_type": "maskformer"}, prefix="hf")
    assert not state  # consumed keys are popped
    cfg = hf_transformer_decoder_cfg({"model_type": "mask2former"})  # HF defaults = official
    assert cfg == dict(type="MultiScaleMaskedTransformerDecoder", in_feature="multi_scale", num_feature_levels=3,
                       hidden_dim=256, num_queries=100, nheads=8, dim_feedforward=2048, dec_layers=9,
                       pre_norm=False, enforce_input_project=False, dropout=0.0, mask_embed_layers=3)
    mf = hf_transformer_decoder_cfg({"model_type": "maskformer", "decoder_config": {"decoder_layers": 6}})
    assert mf["dec_layers"] == 6 and mf["hidden_dim"] == 256 and "deep_supervision" not in mf  # the criterion's
