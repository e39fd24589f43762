"""projects/attention_types: SMCA-style spatially modulated cross-attention and mask pooling (Table 4c),
and the catalog rows of attention_types and no_masked_attention on both ablation bases."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from variant_probes import PAPER_BASE, REPO, TOY_BASE, build_variant, load_variants, train_toy

import projects.attention_types.attention_types as plugin  # noqa: F401  (registers the decoders)
import projects.no_masked_attention.no_masked_attention  # noqa: F401
from segformers.registry import TRANSFORMER_DECODERS
from segformers.structures import select_features
from segformers.testing import NUM_CLASSES, check_contract, feature_bank, spec_bank

CONFIGS = REPO / "projects" / "attention_types" / "configs"
TINY = dict(hidden_dim=32, num_queries=8, nheads=2, dim_feedforward=32, dec_layers=3)


def _build(name: str, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return TRANSFORMER_DECODERS.build(dict(TINY, type=name, num_classes=NUM_CLASSES, input_shape=spec_bank(),
                                           **kwargs)).eval()


def _inputs() -> tuple[list[torch.Tensor], torch.Tensor]:
    features = feature_bank(spec_bank())
    return select_features(features, "multi_scale", 3), features["mask_features"]


# --- SMCA ---------------------------------------------------------------------------------------------------
def test_the_smca_bias_is_a_log_gaussian_peaked_at_the_predicted_centre():
    h, w = 6, 8
    centres = torch.tensor([[[[0.3125, 0.25]], [[0.8125, 0.75]]]])  # [B=1, Q=2, G=1, 2]: cells (1, 2) and (4, 6)
    scales = torch.tensor([[[[0.1, 0.2], [0.3, 0.3]], [[0.2, 0.1], [0.05, 0.4]]]])  # [1, 2, heads=2, 2]
    bias = plugin.gaussian_log_bias(centres, scales, (h, w), beta=2.0)
    assert bias.shape == (1, 2, 2, h * w)  # [B, heads, Q, h*w]
    peaks = bias.argmax(-1)
    assert peaks[0, :, 0].tolist() == [1 * w + 2] * 2 and peaks[0, :, 1].tolist() == [4 * w + 6] * 2
    assert bias.max() <= 0 and torch.allclose(bias[0, :, 0, 1 * w + 2], torch.zeros(2), atol=1e-6)
    # cell (i=3, j=5) for query 0, head 1: x = 5.5 / 8, y = 3.5 / 6
    dx, dy = (5.5 / 8 - 0.3125) / 0.3, (3.5 / 6 - 0.25) / 0.3
    assert bias[0, 1, 0, 3 * w + 5].item() == pytest.approx(-(dx**2 + dy**2) / 2.0, rel=1e-5)
    assert (bias[0, 0, 0] != bias[0, 1, 0]).any()  # per-head scales give per-head maps


def test_smca_keeps_the_masked_decoders_names_and_its_bias_is_what_changes_the_attention():
    masked, smca = _build("MultiScaleMaskedTransformerDecoder"), _build("SMCADecoder")
    plain = _build("PlainCrossAttentionDecoder")
    missing, unexpected = smca.load_state_dict(masked.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith(("smca_centre.", "smca_scale.")) for k in missing)
    plain.load_state_dict(masked.state_dict())
    inputs, mask_features = _inputs()
    with torch.no_grad():
        a, b = plain(inputs, mask_features), smca(inputs, mask_features)
        bias = smca.spatial_bias(0, *smca.initial_queries(2), inputs[0].shape[-2:])
    assert len(b) == 4 and b.pred_masks.shape == (2, 8, 16, 24) and b.pred_logits.shape == (2, 8, NUM_CLASSES + 1)
    assert bias.shape == (2, 2, 8, inputs[0].shape[-2] * inputs[0].shape[-1]) and bias.min() < -1
    assert smca.attention_mask(a.mask_logits[0], inputs[0].shape[-2:]) is None
    assert (a.pred_logits - b.pred_logits).abs().max() > 1e-3  # the spatial prior changes the attention
    smca.spatial_bias = lambda i, output, query_pos, size: None  # no bias: plain cross-attention exactly
    with torch.no_grad():
        c = smca(inputs, mask_features)
    for x, y in zip(a.mask_logits + a.class_logits, c.mask_logits + c.class_logits):
        torch.testing.assert_close(x, y)


def test_the_smca_heads_are_trained_through_the_attention():
    smca = _build("SMCADecoder", shared_centre=True).train()
    out = smca(*_inputs())
    sum(m.square().mean() for m in out.mask_logits[1:]).backward()
    for i in range(3):
        assert smca.smca_centre[i].layers[0].weight.grad.abs().sum() > 0
        assert smca.smca_scale[i].weight.grad.abs().sum() > 0
    assert smca.smca_centre[0].layers[-1].out_features == 2  # one (x, y) centre shared by the heads


NON_DEFAULT = [("SMCADecoder", dict(shared_centre=True)), ("SMCADecoder", dict(pre_norm=True, dropout=0.1)),
               ("MaskPoolingDecoder", dict(detach_masks=False)), ("MaskPoolingDecoder", dict(pre_norm=True, dropout=0.1))]


@pytest.mark.parametrize("name,cfg", NON_DEFAULT, ids=["smca-shared", "smca-prenorm", "pool-grad", "pool-prenorm"])
def test_the_non_default_settings_honour_the_decoder_contract(name, cfg):
    assert type(check_contract(TRANSFORMER_DECODERS, name, cfg)).__name__ == name


def test_smca_refuses_a_bad_bandwidth():
    with pytest.raises(ValueError, match="beta > 0"):
        _build("SMCADecoder", beta=0.0)


# --- mask pooling -------------------------------------------------------------------------------------------
def test_a_query_whose_mask_covers_one_region_pools_exactly_that_regions_mean():
    torch.manual_seed(0)
    h, w, c = 4, 6, 5
    memory = torch.randn(1, h * w, c)
    region = torch.zeros(h, w, dtype=torch.bool)
    region[1:3, 2:5] = True
    logits = torch.where(region, 30.0, -30.0)[None, None].repeat(1, 2, 1, 1)  # [B, Q=2, h, w]
    logits[0, 1] = -logits[0, 1]  # query 1: the complement
    weights = plugin.pooling_weights(logits, (h, w))
    pooled = plugin.mask_pool(memory, weights)
    torch.testing.assert_close(pooled[0, 0], memory[0, region.flatten()].mean(0))
    torch.testing.assert_close(pooled[0, 1], memory[0, ~region.flatten()].mean(0))


def test_mask_pooling_layer_is_pool_project_residual_norm_then_self_attention_and_ffn():
    decoder = _build("MaskPoolingDecoder")
    names = set(decoder.state_dict())
    assert "transformer_cross_attention_layers.0.proj.weight" in names
    assert not any("multihead_attn" in n for n in names)
    masked_names = {n for n in _build("MultiScaleMaskedTransformerDecoder").state_dict() if "multihead_attn" not in n}
    assert masked_names <= names  # everything else keeps the masked decoder's names
    inputs, mask_features = _inputs()
    memory = decoder.level_memories(inputs)[0]
    output, query_pos = decoder.initial_queries(2)
    _, mask_logits = decoder.predict(output, mask_features)
    weights = decoder.attention_mask(mask_logits, memory.size)
    assert weights.shape == (2, 8, memory.src.shape[1]) and 0 <= weights.min() and weights.max() <= 1
    with torch.no_grad():
        got = decoder.decoder_layer(0, output, memory, query_pos, weights)
        layer = decoder.transformer_cross_attention_layers[0]
        pooled = (weights @ memory.src) / weights.sum(-1, keepdim=True)
        x = layer.norm(output + layer.proj(pooled))
        x = decoder.transformer_self_attention_layers[0](x, query_pos)
        want = decoder.transformer_ffn_layers[0](x)
    torch.testing.assert_close(got, want)
    with torch.no_grad():
        out = decoder(inputs, mask_features)
    assert len(out) == 4 and out.pred_masks.shape == (2, 8, 16, 24)
    with pytest.raises(ValueError, match="pooling weights"):
        decoder.decoder_layer(0, output, memory, query_pos, None)


def test_mask_pooling_weights_follow_the_resized_previous_prediction():
    logits = torch.full((1, 1, 8, 8), -20.0)
    logits[..., :4, :] = 20.0  # the top half at H/4
    weights = plugin.pooling_weights(logits, (4, 4)).view(4, 4)
    assert torch.allclose(weights[:2], torch.ones(2, 4)) and torch.allclose(weights[2:], torch.zeros(2, 4), atol=1e-6)
    torch.testing.assert_close(weights, F.interpolate(logits, size=(4, 4), mode="bilinear").sigmoid().view(4, 4))


# --- catalog rows and configs -------------------------------------------------------------------------------
VARIANTS = load_variants("attention_types") + load_variants("no_masked_attention")


def test_the_catalog_rows():
    assert [v["name"] for v in VARIANTS] == ["smca", "mask_pooling", "cross_attention"]
    assert {v["name"]: v["paper"]["flops_g"] for v in VARIANTS} == dict(smca=213, mask_pooling=217,
                                                                      cross_attention=213)
    assert VARIANTS[2]["table"] == ["4a", "4c"] and VARIANTS[2]["paper"]["AP"] == 37.8


@pytest.mark.parametrize("base", [TOY_BASE, PAPER_BASE], ids=["toy", "paper"])
@pytest.mark.parametrize("variant", VARIANTS, ids=[v["name"] for v in VARIANTS])
def test_every_variant_builds_on_both_bases(variant, base):
    model = build_variant(base, variant)
    decoder = model.transformer_decoder
    assert type(decoder).__name__ == variant["options"]["model.transformer_decoder.type"]
    expected = (9, 100, 256) if base == PAPER_BASE else (3, 30, 128)
    assert (decoder.num_layers, decoder.num_queries, decoder.query_embed.weight.shape[1]) == expected



@pytest.mark.parametrize("name", ["smca", "mask-pooling"])
def test_the_toy_config_trains_a_few_iterations(name, toy_root, tmp_path):
    config = CONFIGS / f"mask2former_r18-tiny_2xb2-570s_toy-panoptic_{name}.py"
    runner, _, start = train_toy(config, tmp_path, toy_root)
    decoder = runner.model.transformer_decoder
    assert type(decoder).__name__ == {"smca": "SMCADecoder", "mask-pooling": "MaskPoolingDecoder"}[name]
    key = "smca_scale.0.weight" if name == "smca" else "transformer_cross_attention_layers.0.proj.weight"
    assert (decoder.state_dict()[key] - start[key]).abs().max() > 0  # the new sub-layer was trained


def test_the_r50_configs_build_from_their_config_alone():
    from segformers.apis import build_model, load_config

    for name, cls in [("smca", "SMCADecoder"), ("mask-pooling", "MaskPoolingDecoder")]:
        with torch.device("meta"):
            model = build_model(load_config(CONFIGS / f"mask2former_r50_8xb2-lsj-50e_coco-instance_{name}.py"))
        assert type(model.transformer_decoder).__name__ == cls and model.num_classes == 80
