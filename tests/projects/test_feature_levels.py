"""projects/feature_levels (Mask2Former Table 4d): the single-scale decoder feeds one chosen level to every layer,
the naive multi-scale decoder feeds all levels concatenated; both build on both bases and train on toy data."""
from __future__ import annotations

import pytest
import torch
from variant_probes import build_variant, forward_toy, train_toy_variant

from projects.feature_levels.ablation_variants import VARIANTS
from projects.feature_levels.feature_levels import (
    NaiveMultiScaleMaskedDecoder, SingleScaleMaskedDecoder, multi_level_attention_mask,
)
from segformers.models.transformer_decoders.masked_attention import masked_attention_mask
from segformers.registry import TRANSFORMER_DECODERS
from segformers.structures import select_features
from segformers.testing import NUM_CLASSES, feature_bank, spec_bank

TINY = dict(num_classes=NUM_CLASSES, hidden_dim=32, num_queries=8, nheads=2, dim_feedforward=32, dec_layers=4)


def _inputs() -> tuple[list[torch.Tensor], torch.Tensor]:
    features = feature_bank(spec_bank())  # multi_scale: 3 levels of 20 channels at 1/32, 1/16, 1/8 of 64x96
    return select_features(features, "multi_scale", 3), features["mask_features"]


def _record_memories(decoder) -> list:  # noqa: ANN001
    seen = []
    original = decoder.decoder_layer

    def layer(i, output, memory, query_pos, attn_mask):  # noqa: ANN001, ANN202
        seen.append((i, memory, attn_mask))
        return original(i, output, memory, query_pos, attn_mask)

    decoder.decoder_layer = layer
    return seen


@pytest.mark.parametrize("level", [0, 1, 2])
def test_every_layer_attends_to_the_chosen_level_only(level):
    torch.manual_seed(0)
    decoder = SingleScaleMaskedDecoder(input_shape=spec_bank(), single_scale_level=level, **TINY).eval()
    seen = _record_memories(decoder)
    features, mask_features = _inputs()
    with torch.no_grad():
        out = decoder(features, mask_features)
        x = features[level]
        expected = (decoder.input_proj[0](x).flatten(2) + decoder.level_embed.weight[0][None, :, None]).transpose(1, 2)
    assert [i for i, _, _ in seen] == [0, 1, 2, 3] and len(out) == 5
    for _, memory, attn_mask in seen:
        assert tuple(memory.size) == tuple(x.shape[-2:])
        torch.testing.assert_close(memory.src, expected)
        assert attn_mask.shape == (2, 1, 8, x.shape[-2] * x.shape[-1])
    assert decoder.level_embed.weight.shape[0] == 1 and len(decoder.input_proj) == 1


def test_single_scale_uses_every_parameter():
    decoder = SingleScaleMaskedDecoder(input_shape=spec_bank(), single_scale_level=2, **TINY).train()
    features, mask_features = _inputs()
    out = decoder(features, mask_features)
    (sum(c.sum() for c in out.class_logits) + sum(m.sum() for m in out.mask_logits)).backward()
    unused = [n for n, p in decoder.named_parameters() if p.grad is None]
    assert unused == []


def test_single_scale_level_is_validated():
    with pytest.raises(ValueError, match=r"single_scale_level=3 is not one of the num_feature_levels=3"):
        SingleScaleMaskedDecoder(input_shape=spec_bank(), single_scale_level=3, **TINY)
    with pytest.raises(TypeError, match="single_scale_level must be an int"):
        SingleScaleMaskedDecoder(input_shape=spec_bank(), single_scale_level=True, **TINY)
    with pytest.raises(ValueError, match="needs 4 multi-scale feature levels, but the check's pixel decoder "):
        SingleScaleMaskedDecoder(input_shape=spec_bank(), single_scale_level=3, num_feature_levels=4, **TINY)


def test_naive_multi_scale_keys_are_all_levels_concatenated():
    torch.manual_seed(0)
    decoder = NaiveMultiScaleMaskedDecoder(input_shape=spec_bank(), **TINY).eval()
    seen = _record_memories(decoder)
    keys = []
    decoder.transformer_cross_attention_layers[1].register_forward_pre_hook(lambda m, a: keys.append(a[1].shape))
    features, mask_features = _inputs()
    with torch.no_grad():
        decoder(features, mask_features)
    total = sum(x.shape[-2] * x.shape[-1] for x in features)  # 2*3 + 4*6 + 8*12 = 126
    assert total == 126 and keys == [torch.Size([2, 126, 32])]
    for _, memory, attn_mask in seen:
        assert memory.src.shape == (2, 126, 32) and memory.size == [(2, 3), (4, 6), (8, 12)]
        assert attn_mask.shape == (2, 1, 8, 126)
    first = seen[0][1].src[:, :6]  # the 1/32 level leads, with its level embedding
    with torch.no_grad():
        level0 = decoder.input_proj[0](features[0]).flatten(2) + decoder.level_embed.weight[0][None, :, None]
    torch.testing.assert_close(first, level0.transpose(1, 2))


def test_multi_level_mask_is_the_per_level_masks_joined_with_one_fallback():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 16, 24)
    logits[0, 1] = -5.0  # query 1 of image 0 predicts nothing: it attends everywhere
    sizes = [(2, 3), (4, 6), (8, 12)]
    joined = multi_level_attention_mask(logits, sizes)
    assert joined.shape == (2, 1, 4, 126) and joined[0, 0, 1].all()
    per_level = torch.cat([masked_attention_mask(logits, s) for s in sizes], dim=-1)
    others = [(b, q) for b in range(2) for q in range(4) if (b, q) != (0, 1)]
    for b, q in others:
        assert torch.equal(joined[b, 0, q], per_level[b, 0, q])
    assert 0.2 < joined.float().mean() < 0.8


@pytest.mark.parametrize("base", ["toy", "paper"])
@pytest.mark.parametrize("variant", VARIANTS, ids=[v["name"] for v in VARIANTS])
def test_every_variant_builds_on_both_bases(variant, base):
    model = build_variant(base, variant, meta=base == "paper")
    if base == "toy":
        forward_toy(model)  # the toy base is small enough to build for real and run
    decoder = model.transformer_decoder
    assert type(decoder).__name__ == variant["options"]["model.transformer_decoder.type"]
    assert decoder.num_layers == (9 if base == "paper" else 3)
    if isinstance(decoder, SingleScaleMaskedDecoder):
        assert decoder.single_scale_level == variant["options"]["model.transformer_decoder.single_scale_level"]
    assert isinstance(TRANSFORMER_DECODERS.get(type(decoder).__name__), type)



@pytest.mark.parametrize("name", ["single_scale_1_8", "naive_multi_scale"])
def test_variant_trains_a_few_toy_iterations(name, toy_root, tmp_path):
    variant = next(v for v in VARIANTS if v["name"] == name)
    runner, _, before = train_toy_variant(variant, toy_root, tmp_path)
    decoder = runner.model.transformer_decoder
    assert type(decoder).__name__ == variant["options"]["model.transformer_decoder.type"]
    cross = "transformer_cross_attention_layers.2.multihead_attn.in_proj_weight"
    for key in ("level_embed.weight", "query_feat.weight", cross):
        assert (decoder.state_dict()[key] - before[key]).abs().max() > 0, key  # trained
