"""DecoderOutput.hidden_states: the query states each built-in decoder's predictions are made from."""
from __future__ import annotations

import torch

from segformers.registry import TRANSFORMER_DECODERS


def test_masked_attention_decoder_states_give_its_predictions():
    torch.manual_seed(0)
    decoder = TRANSFORMER_DECODERS.build(dict(type="MultiScaleMaskedTransformerDecoder", hidden_dim=32, num_queries=5,
                                              nheads=4, dim_feedforward=64, dec_layers=4),
                                         default_args=dict(num_classes=3, in_channels=32, mask_dim=16)).eval()
    features = [torch.randn(2, 32, s, s + 1) for s in (2, 4, 8)]
    out = decoder(features, torch.randn(2, 16, 16, 17))
    assert len(out.hidden_states) == len(out.class_logits) == 5  # input queries + one per layer
    assert torch.equal(out.hidden_states[0][0], decoder.query_feat.weight)
    for state, logits in zip(out.hidden_states, out.class_logits):
        assert state.shape == (2, 5, 32)
        torch.testing.assert_close(decoder.class_embed(decoder.decoder_norm(state)), logits)


def test_detr_decoder_states_are_the_raw_layer_outputs():
    torch.manual_seed(0)
    for deep in (True, False):
        decoder = TRANSFORMER_DECODERS.build(dict(type="StandardTransformerDecoder", hidden_dim=32, num_queries=5,
                                                  nheads=4, dim_feedforward=64, dec_layers=3, deep_supervision=deep),
                                             default_args=dict(num_classes=3, in_channels=24, mask_dim=16)).eval()
        out = decoder([torch.randn(2, 24, 4, 6)], torch.randn(2, 16, 16, 24))
        states = out.hidden_states
        assert len(states) == 4 and not states[0].any()  # zero input queries, then 3 layers (even unsupervised)
        norm = decoder.transformer["decoder"].norm
        heads = [decoder.class_embed(norm(s)) for s in states[1:]]
        for got, want in zip(out.class_logits, heads if deep else heads[-1:], strict=True):
            torch.testing.assert_close(got, want)
