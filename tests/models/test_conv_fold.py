"""Conv2dNormAct folds a FrozenBatchNorm2d into the conv at inference (exact up to rounding)."""
import copy

import pytest
import torch

from segformers.models.layers import Conv2dNormAct


def _conv(bias: bool = False, groups: int = 1) -> Conv2dNormAct:
    torch.manual_seed(0)
    conv = Conv2dNormAct(8, 12, 3, padding=1, groups=groups, bias=bias, norm="FrozenBN", activation=torch.relu)
    n = conv.norm
    n.weight.copy_(torch.rand(12) + 0.5)
    n.bias.copy_(torch.randn(12))
    n.running_mean.copy_(torch.randn(12))
    n.running_var.copy_(torch.rand(12) + 0.1)
    return conv


def _unfolded(conv: Conv2dNormAct, x: torch.Tensor) -> torch.Tensor:
    y = conv.norm(conv._conv_forward(x, conv.weight, conv.bias))
    return conv.activation(y)


@pytest.mark.parametrize("bias,groups,channels_last", [(False, 1, False), (True, 2, False), (False, 1, True)])
def test_folded_equals_conv_then_norm(bias, groups, channels_last):
    conv = _conv(bias, groups)
    x = torch.randn(2, 8, 9, 7)
    if channels_last:
        conv = conv.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    with torch.no_grad():
        ref, out = _unfolded(conv, x), conv(x)
        weight, _ = conv.folded_weight_bias()
    assert weight.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    assert (ref > 0).any() and torch.allclose(out, ref, atol=1e-5, rtol=1e-5)


def test_training_path_is_the_unfolded_one_and_the_cache_follows_the_weights():
    conv = _conv()
    x = torch.randn(1, 8, 5, 5, requires_grad=True)
    out = conv(x)  # grad enabled, trainable weight: conv then norm, gradients to the weight as before
    out.sum().backward()
    assert conv.weight.grad is not None and conv._folded is None
    with torch.no_grad():
        first = conv(x)
        cached = conv._folded[1]
        assert conv(x).equal(first) and conv._folded[1] is cached  # reused
        conv.norm.running_var.mul_(4.0)  # a statistic changes -> folded again
        assert torch.allclose(conv(x), _unfolded(conv, x), atol=1e-5) and conv._folded[1] is not cached
        loaded = copy.deepcopy(conv)
        loaded.load_state_dict({k: v * 0.5 if k == "weight" else v for k, v in conv.state_dict().items()})
        assert torch.allclose(loaded(x), _unfolded(loaded, x), atol=1e-5)
    assert "_folded" not in "".join(conv.state_dict())
