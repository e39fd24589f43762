"""projects/decoder_design: query features (learnable / zero / learnable without supervision) and the
sub-layer order (Table 4b, Table Xb), and the catalog rows of Tables 4b, Xa, Xb on both ablation bases."""
from __future__ import annotations

import pytest
import torch
from variant_probes import PAPER_BASE, REPO, TOY_BASE, build_variant, load_variants, train_toy

import projects.decoder_design.decoder_design  # noqa: F401  (registers the decoder)
from segformers.registry import CRITERIA, TRANSFORMER_DECODERS
from segformers.structures import select_features
from segformers.testing import NUM_CLASSES, check_contract, feature_bank, random_targets, spec_bank

CONFIGS = REPO / "projects" / "decoder_design" / "configs"
TINY = dict(hidden_dim=32, num_queries=8, nheads=2, dim_feedforward=32, dec_layers=3)


def _build(**kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = dict(TINY, type="DesignAblationDecoder", num_classes=NUM_CLASSES, input_shape=spec_bank())
    return TRANSFORMER_DECODERS.build(dict(cfg, **kwargs)).eval()


def _inputs() -> tuple[list[torch.Tensor], torch.Tensor]:
    features = feature_bank(spec_bank())
    return select_features(features, "multi_scale", 3), features["mask_features"]


@pytest.mark.parametrize("option,value", [("query_features", "none"), ("layer_order", "ffn-sa-ca")])
def test_an_unknown_switch_value_is_refused_by_name(option, value):
    with pytest.raises(ValueError, match=f"{option}={value!r} is not one of"):
        _build(**{option: value})


@pytest.mark.parametrize("layer_order", ["ca-sa-ffn", "sa-ca-ffn"])
@pytest.mark.parametrize("query_features", ["learnable", "zero", "learnable_unsupervised"])
def test_every_switch_setting_honours_the_decoder_contract(query_features, layer_order):
    decoder = check_contract(TRANSFORMER_DECODERS, "DesignAblationDecoder",
                             dict(query_features=query_features, layer_order=layer_order))
    assert (decoder.query_features, decoder.layer_order) == (query_features, layer_order)


def test_the_defaults_are_the_masked_decoder():
    default = _build()
    masked = TRANSFORMER_DECODERS.build(dict(TINY, type="MultiScaleMaskedTransformerDecoder",
                                             num_classes=NUM_CLASSES, input_shape=spec_bank())).eval()
    masked.load_state_dict(default.state_dict())
    with torch.no_grad():
        a, b = default(*_inputs()), masked(*_inputs())
    assert len(a) == len(b) == 4
    for x, y in zip(a.mask_logits + a.class_logits, b.mask_logits + b.class_logits):
        torch.testing.assert_close(x, y)


def test_zero_query_features_are_not_learnable_and_not_in_the_state_dict():
    zero, learnable = _build(query_features="zero"), _build()
    assert "query_feat.weight" not in dict(zero.named_parameters())
    assert set(zero.state_dict()) == set(learnable.state_dict()) - {"query_feat.weight"}
    assert torch.equal(zero.query_feat.weight, torch.zeros(8, 32)) and not zero.query_feat.weight.requires_grad
    out = zero.train()(*_inputs())
    assert torch.equal(out.hidden_states[0], torch.zeros(2, 8, 32))
    sum(c.sum() for c in out.class_logits).backward()
    assert zero.query_feat.weight.grad is None and zero.query_embed.weight.grad.abs().sum() > 0
    torch.testing.assert_close(out.mask_logits[0][:, 0], out.mask_logits[0][:, 5])  # one prediction for all


def test_unsupervised_query_features_drop_the_initial_prediction_but_still_use_it():
    supervised, unsupervised = _build(), _build(query_features="learnable_unsupervised")
    unsupervised.load_state_dict(supervised.state_dict())
    inputs, mask_features = _inputs()
    with torch.no_grad():
        a, b = supervised(inputs, mask_features), unsupervised(inputs, mask_features)
    assert len(a) == 4 and len(b) == len(b.mask_logits) == len(b.hidden_states) == 3  # dec_layers, not + 1
    for x, y in zip(a.mask_logits[1:] + a.class_logits[1:] + a.hidden_states[1:],
                    b.mask_logits + b.class_logits + b.hidden_states):
        torch.testing.assert_close(x, y)  # layer 0 still attended under the initial prediction's mask
    torch.testing.assert_close(a.pred_masks, b.pred_masks)  # inference reads the same final prediction
    criterion = CRITERIA.build(dict(CRITERIA.get("SetCriterion").tiny_config, type="SetCriterion",
                                    num_classes=NUM_CLASSES))
    targets = random_targets(size=(64, 96))
    torch.manual_seed(1)
    la = criterion(a, targets)
    torch.manual_seed(1)
    lb = criterion(b, targets)
    assert sorted(la) == sorted(["loss_ce", "loss_mask", "loss_dice"]
                                + [f"loss_{n}_{i}" for n in ("ce", "mask", "dice") for i in range(3)])
    assert sorted(lb) == sorted(["loss_ce", "loss_mask", "loss_dice"]
                                + [f"loss_{n}_{i}" for n in ("ce", "mask", "dice") for i in range(2)])
    assert all(torch.isfinite(v) and v > 0 for v in lb.values())
    torch.testing.assert_close(la["loss_ce"], lb["loss_ce"])  # the final prediction's loss is the same


def test_self_attention_first_differs_and_equals_the_hand_composed_order():
    ca_first, sa_first = _build(), _build(layer_order="sa-ca-ffn")
    sa_first.load_state_dict(ca_first.state_dict())
    inputs, mask_features = _inputs()
    with torch.no_grad():
        a, b = ca_first(inputs, mask_features), sa_first(inputs, mask_features)
        torch.testing.assert_close(a.class_logits[0], b.class_logits[0])  # the query-only prediction
        assert (a.pred_logits - b.pred_logits).abs().max() > 1e-3
        d = sa_first  # the hand-composed self-attention -> masked cross-attention -> FFN
        memories = d.level_memories(inputs)
        output, query_pos = d.initial_queries(2)
        _, mask_logits = d.predict(output, mask_features)
        for i in range(3):
            memory = memories[i % 3]
            attn_mask = d.attention_mask(mask_logits, memory.size)
            output = d.transformer_self_attention_layers[i](output, query_pos)
            output = d.transformer_cross_attention_layers[i](output, memory.src, attn_mask, memory.pos, query_pos)
            output = d.transformer_ffn_layers[i](output)
            class_logits, mask_logits = d.predict(output, mask_features)
    torch.testing.assert_close(b.pred_logits, class_logits)
    torch.testing.assert_close(b.pred_masks, mask_logits)


# --- catalog rows and configs -------------------------------------------------------------------------------
VARIANTS = load_variants("decoder_design")
NAMES = ["no_query_features", "sa_before_ca", "dropout_01", "all_three_4b", "queries_50", "queries_200",
         "queries_300", "queries_1000", "query_zero_init", "query_learnable_unsupervised"]


def test_the_catalog_rows():
    assert [v["name"] for v in VARIANTS] == NAMES
    flops = {v["name"]: v["paper"].get("flops_g") for v in VARIANTS}
    assert flops == dict(no_query_features=226, sa_before_ca=226, dropout_01=226, all_three_4b=226, queries_50=217,
                         queries_200=246, queries_300=265, queries_1000=405, query_zero_init=None,
                         query_learnable_unsupervised=None)
    assert {v["table"] for v in VARIANTS} == {"4b", "Xa", "Xb"}


def _expected(variant: dict, paper: bool) -> dict:
    opts = {k.rsplit(".", 1)[-1]: v for k, v in variant["options"].items()}
    return dict(num_queries=opts.get("num_queries", 100 if paper else 30),
                dropout=opts.get("dropout", 0.0), query_features=opts.get("query_features", "learnable"),
                layer_order=opts.get("layer_order", "ca-sa-ffn"), num_layers=9 if paper else 3)


@pytest.mark.parametrize("base", [TOY_BASE, PAPER_BASE], ids=["toy", "paper"])
@pytest.mark.parametrize("variant", VARIANTS, ids=NAMES)
def test_every_variant_builds_on_both_bases(variant, base):
    decoder = build_variant(base, variant).transformer_decoder
    got = dict(num_queries=decoder.query_embed.weight.shape[0], dropout=decoder.transformer_ffn_layers[0].dropout,
               query_features=getattr(decoder, "query_features", "learnable"),
               layer_order=getattr(decoder, "layer_order", "ca-sa-ffn"), num_layers=len(decoder.transformer_ffn_layers))
    assert got == _expected(variant, base == PAPER_BASE)
    assert decoder.transformer_cross_attention_layers[0].multihead_attn.dropout == got["dropout"]


@pytest.mark.parametrize("name", ["queries_50", "queries_1000"])
def test_the_query_counts_predict_on_the_toy_base(name):
    variant = next(v for v in VARIANTS if v["name"] == name)
    torch.manual_seed(0)
    model = build_variant(TOY_BASE, variant, meta=False).eval()
    model.postprocessor.thing_ids = [4, 5, 6, 7]
    (sample,) = model.predict(torch.randn(1, 3, 64, 64))
    queries = int(name.split("_")[1])
    assert model.transformer_decoder.num_queries == queries
    instances = sample.pred["instances"]  # top-100 of queries x 8 classes, stuff pairs then dropped
    assert 0 < len(instances["scores"]) <= 100 and int(instances["query_ids"].max()) < queries
    assert sample.pred["sem_seg"].shape == (8, 64, 64)



def test_the_unsupervised_toy_config_trains_a_few_iterations(toy_root, tmp_path):
    config = CONFIGS / "mask2former_r18-tiny_2xb2-570s_toy-panoptic_unsupervised-query-features.py"
    runner, _, start = train_toy(config, tmp_path, toy_root)
    decoder = runner.model.transformer_decoder
    assert decoder.query_features == "learnable_unsupervised"
    assert (decoder.query_feat.weight - start["query_feat.weight"]).abs().max() > 0  # still learnt (layer 0's input)


def test_all_three_4b_trains_a_few_iterations(toy_root, tmp_path):
    config = CONFIGS / "mask2former_r18-tiny_2xb2-570s_toy-panoptic_sa-before-ca.py"
    runner, _, start = train_toy(config, tmp_path, toy_root,
                                 transformer_decoder=dict(query_features="zero", dropout=0.1))
    decoder = runner.model.transformer_decoder
    assert (decoder.query_features, decoder.layer_order, decoder.transformer_ffn_layers[0].dropout) == (
        "zero", "sa-ca-ffn", 0.1)
    assert "query_feat.weight" not in start and torch.equal(decoder.query_feat.weight, torch.zeros(10, 32))
    key = "transformer_self_attention_layers.0.self_attn.in_proj_weight"
    assert (decoder.state_dict()[key] - start[key]).abs().max() > 0


def test_the_r50_configs_build_from_their_config_alone():
    from segformers.apis import build_model, load_config

    for name, switch in [("zero-query-features", ("query_features", "zero")),
                         ("unsupervised-query-features", ("query_features", "learnable_unsupervised")),
                         ("sa-before-ca", ("layer_order", "sa-ca-ffn"))]:
        with torch.device("meta"):
            model = build_model(load_config(CONFIGS / f"mask2former_r50_8xb2-lsj-50e_coco-instance_{name}.py"))
        assert getattr(model.transformer_decoder, switch[0]) == switch[1]
