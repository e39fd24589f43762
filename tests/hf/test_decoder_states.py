"""DecoderOutput.hidden_states: the query states each built-in decoder's predictions are made from."""
from __future__ import annotations

import torch

from segformers.registry import TRANSFORMER_DECODERS
from segformers.structures import FeatureShapes, ShapeSpec

BACKBONE = {"res2": ShapeSpec(8, 4), "res3": ShapeSpec(8, 8), "res4": ShapeSpec(8, 16), "res5": ShapeSpec(24, 32)}
PIXEL = {"mask_features": ShapeSpec(16, 4), "multi_scale": [ShapeSpec(32, 32), ShapeSpec(32, 16), ShapeSpec(32, 8)]}


def _decoder(**cfg):  # noqa: ANN003, ANN202
    return TRANSFORMER_DECODERS.build(cfg, default_args=dict(num_classes=3,
                                                             input_shape=FeatureShapes(BACKBONE, PIXEL))).eval()


def test_masked_attention_decoder_states_give_its_predictions():
    torch.manual_seed(0)
    decoder = _decoder(type="MultiScaleMaskedTransformerDecoder", hidden_dim=32, num_queries=5, nheads=4,
                       dim_feedforward=64, dec_layers=4)
    features = [torch.randn(2, 32, s, s + 1) for s in (2, 4, 8)]
    out = decoder(features, torch.randn(2, 16, 16, 17))
    assert len(out.hidden_states) == len(out.class_logits) == 5  # input queries + one per layer
    assert torch.equal(out.hidden_states[0][0], decoder.query_feat.weight)
    for state, logits in zip(out.hidden_states, out.class_logits):
        assert state.shape == (2, 5, 32)
        torch.testing.assert_close(decoder.class_embed(decoder.decoder_norm(state)), logits)


def test_detr_decoder_states_are_the_raw_layer_outputs():
    torch.manual_seed(0)
    decoder = _decoder(type="StandardTransformerDecoder", hidden_dim=32, num_queries=5, nheads=4,
                       dim_feedforward=64, dec_layers=3)
    out = decoder([torch.randn(2, 24, 4, 6)], torch.randn(2, 16, 16, 24))
    states = out.hidden_states
    assert len(states) == 4 and not states[0].any()  # zero input queries, then one per layer
    norm = decoder.transformer["decoder"].norm
    for state, logits in zip(states[1:], out.class_logits, strict=True):  # each prediction: norm of the raw state
        assert state.shape == (2, 5, 32)
        torch.testing.assert_close(decoder.class_embed(norm(state)), logits)
