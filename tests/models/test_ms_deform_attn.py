"""The multi-scale deformable attention op and module against explicit references."""
from __future__ import annotations

import math

import pytest
import torch

from segformers.models.layers.ms_deform_attn import MSDeformAttn, ms_deform_attn

IMPLS = ["gather", "grid_sample"]
SHAPES = [(3, 4), (2, 3)]


def naive_ms_deform_attn(value, shapes, loc, attn):
    """Explicit bilinear sampling, one query / head / level / point at a time (zero outside the map)."""
    n, _, m, d = value.shape
    _, lq, _, num_levels, num_points, _ = loc.shape
    out = torch.zeros(n, lq, m, d, dtype=torch.float64)
    starts = [0]
    for h, w in shapes[:-1]:
        starts.append(starts[-1] + h * w)
    for b in range(n):
        for q in range(lq):
            for head in range(m):
                for lvl, (h, w) in enumerate(shapes):
                    for p in range(num_points):
                        x = loc[b, q, head, lvl, p, 0].item() * w - 0.5
                        y = loc[b, q, head, lvl, p, 1].item() * h - 0.5
                        x0, y0 = math.floor(x), math.floor(y)
                        for xi, yi in ((x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1)):
                            if 0 <= xi < w and 0 <= yi < h:
                                bilinear = (1 - abs(x - xi)) * (1 - abs(y - yi))
                                row = starts[lvl] + yi * w + xi
                                out[b, q, head] += (
                                    attn[b, q, head, lvl, p].item() * bilinear * value[b, row, head].double()
                                )
    return out.view(n, lq, m * d)


def make_inputs(dtype=torch.float64, seed=0, shapes=SHAPES, n=2, lq=5, m=2, d=3, p=2):
    g = torch.Generator().manual_seed(seed)
    s = sum(h * w for h, w in shapes)
    value = torch.randn(n, s, m, d, generator=g, dtype=torch.float64)
    # locations in [-0.3, 1.3]: some points fall partly or wholly outside their level
    loc = torch.rand(n, lq, m, len(shapes), p, 2, generator=g, dtype=torch.float64) * 1.6 - 0.3
    attn = torch.rand(n, lq, m, len(shapes), p, generator=g, dtype=torch.float64)
    attn = attn / attn.sum((-1, -2), keepdim=True)
    return value.to(dtype), loc.to(dtype), attn.to(dtype)


@pytest.mark.parametrize("impl", IMPLS)
def test_matches_naive_loop(impl):
    value, loc, attn = make_inputs()
    expected = naive_ms_deform_attn(value, SHAPES, loc, attn)
    out = ms_deform_attn(value, SHAPES, loc, attn, impl=impl)
    assert out.shape == (2, 5, 6) and out.dtype == torch.float64
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
    assert expected.abs().max() > 0.1  # the reference is not trivially zero


@pytest.mark.parametrize("impl", IMPLS)
def test_fp32_and_tensor_shapes(impl):
    value, loc, attn = make_inputs()
    expected = naive_ms_deform_attn(value, SHAPES, loc, attn).float()
    shapes_tensor = torch.tensor(SHAPES)
    out = ms_deform_attn(value.float(), shapes_tensor, loc.float(), attn.float(), impl=impl)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("impl", IMPLS)
def test_far_outside_is_zero_and_nan_safe(impl):
    value, loc, attn = make_inputs()
    far = torch.full_like(loc, 5.0)
    far[..., 1] = -7.0
    assert ms_deform_attn(value, SHAPES, far, attn, impl=impl).abs().max() == 0
    # a whole-pixel-outside location (x = -0.5 / W) still contributes nothing
    edge = torch.full_like(loc, 0.5)
    edge[..., 0] = -0.5 / 4 - 1e-9
    edge[:, :, :, 1, :, 0] = -0.5 / 3 - 1e-9
    assert ms_deform_attn(value, SHAPES, edge, attn, impl=impl).abs().max() == 0


@pytest.mark.parametrize("impl", IMPLS)
def test_gradcheck_float64(impl):
    value, loc, attn = make_inputs(n=1, lq=3, m=2, d=2, p=2)
    loc = loc.clamp(0.02, 0.98)  # keep away from the clamp bounds, where the op is not differentiable
    inputs = tuple(t.clone().requires_grad_(True) for t in (value, loc, attn))
    assert torch.autograd.gradcheck(
        lambda v, l_, a: ms_deform_attn(v, SHAPES, l_, a, impl=impl), inputs, eps=1e-6, atol=1e-5
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_bf16_close_to_fp32(impl):
    value, loc, attn = make_inputs(dtype=torch.float32, lq=7, d=4)
    ref = ms_deform_attn(value, SHAPES, loc, attn, impl=impl)
    out = ms_deform_attn(value.bfloat16(), SHAPES, loc.bfloat16(), attn.bfloat16(), impl=impl)
    assert out.dtype == torch.bfloat16
    # bf16 keeps 8 bits of mantissa: ~0.4% relative error per operand, values are O(1)
    torch.testing.assert_close(out.float(), ref, rtol=0, atol=0.1)
    assert (out.float() - ref).abs().mean() < 0.02


def test_impls_agree_on_gradients():
    value, loc, attn = make_inputs(dtype=torch.float32, lq=9, d=4, seed=3)
    grads = []
    for impl in IMPLS:
        inputs = [t.clone().requires_grad_(True) for t in (value, loc, attn)]
        out = ms_deform_attn(*inputs[:1], SHAPES, *inputs[1:], impl=impl)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        grads.append([t.grad for t in inputs])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_bad_inputs_raise_clear_errors():
    value, loc, attn = make_inputs()
    with pytest.raises(ValueError, match="sum to value.shape"):
        ms_deform_attn(value, [(3, 4), (2, 2)], loc, attn)
    with pytest.raises(ValueError, match=r"\[N, Lq, M, L, P, 2\]"):
        ms_deform_attn(value, SHAPES, loc[..., 0], attn)
    with pytest.raises(ValueError, match="attention_weights"):
        ms_deform_attn(value, SHAPES, loc, attn[..., :1])
    with pytest.raises(ValueError, match="unknown impl"):
        ms_deform_attn(value, SHAPES, loc, attn, impl="cuda")
    with pytest.raises(ValueError, match="divisible"):
        MSDeformAttn(embed_dim=30, num_heads=4)


def test_module_init_matches_official_pattern():
    attn = MSDeformAttn(embed_dim=32, num_levels=3, num_heads=8, num_points=4)
    bias = attn.sampling_offsets.bias.view(8, 3, 4, 2)
    assert torch.count_nonzero(attn.sampling_offsets.weight) == 0
    # head 0 points right, head 1 diagonally (cos 45 = sin 45 -> (1, 1)), head 2 down, head 4 left
    torch.testing.assert_close(bias[0, 1, :, :], torch.tensor([[1.0, 0], [2, 0], [3, 0], [4, 0]]))
    torch.testing.assert_close(bias[1, 2, 2], torch.tensor([3.0, 3.0]))
    torch.testing.assert_close(bias[2, 0, 0], torch.tensor([0.0, 1.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(bias[4, 0, 3], torch.tensor([-4.0, 0.0]), atol=1e-6, rtol=0)
    assert torch.count_nonzero(attn.attention_weights.weight) == 0
    assert torch.count_nonzero(attn.attention_weights.bias) == 0
    assert torch.count_nonzero(attn.value_proj.bias) == 0 and attn.value_proj.weight.std() > 0.05


def test_module_matches_explicit_computation():
    torch.manual_seed(0)
    module = MSDeformAttn(embed_dim=8, num_levels=2, num_heads=2, num_points=3)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.3)
    n, lq = 2, 4
    s = sum(h * w for h, w in SHAPES)
    query, value = torch.randn(n, lq, 8), torch.randn(n, s, 8)
    ref_points = torch.rand(n, lq, 2, 2)
    padding = torch.zeros(n, s, dtype=torch.bool)
    padding[1, -3:] = True
    out = module(query, ref_points, value, SHAPES, padding_mask=padding)

    v = module.value_proj(value).masked_fill(padding[..., None], 0).view(n, s, 2, 4)
    offsets = module.sampling_offsets(query).view(n, lq, 2, 2, 3, 2)
    weights = module.attention_weights(query).view(n, lq, 2, 6).softmax(-1).view(n, lq, 2, 2, 3)
    size = torch.tensor([[4.0, 3.0], [3.0, 2.0]])  # (W, H) per level
    loc = ref_points[:, :, None, :, None, :] + offsets / size[None, None, None, :, None, :]
    sampled = naive_ms_deform_attn(v.double(), SHAPES, loc.double(), weights.double())
    expected = module.output_proj(sampled.float())
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert out.shape == (n, lq, 8)


def test_module_box_reference_points():
    torch.manual_seed(1)
    module = MSDeformAttn(embed_dim=8, num_levels=2, num_heads=2, num_points=3)
    with torch.no_grad():
        module.sampling_offsets.weight.normal_(0, 0.3)
    query, value = torch.randn(1, 4, 8), torch.randn(1, sum(h * w for h, w in SHAPES), 8)
    boxes = torch.cat([torch.rand(1, 4, 2, 2), torch.rand(1, 4, 2, 2) * 0.5], -1)  # (cx, cy, w, h)
    out = module(query, boxes, value, SHAPES)
    # offsets are in units of the box half-size divided by the number of points
    offsets = module.sampling_offsets(query).view(1, 4, 2, 2, 3, 2)
    loc = boxes[:, :, None, :, None, :2] + offsets / 3 * boxes[:, :, None, :, None, 2:] * 0.5
    weights = module.attention_weights(query).view(1, 4, 2, 6).softmax(-1).view(1, 4, 2, 2, 3)
    v = module.value_proj(value).view(1, -1, 2, 4)
    expected = module.output_proj(ms_deform_attn(v, SHAPES, loc, weights))
    torch.testing.assert_close(out, expected)
    with pytest.raises(ValueError, match="end in 2"):
        module(query, boxes[..., :3], value, SHAPES)


DYADIC_SHAPES = [(4, 8), (2, 4), (8, 2)]  # power-of-two sizes: pixel coordinates below are exact in fp32


def special_inputs(seed=0, n=2, lq=24, m=3, d=4, p=3):
    """fp32 inputs mixing random locations (in and around the maps) with exactly-integer pixel coordinates,
    points exactly on the clamp bounds (pixel -1 and W) and points far outside (all exact in fp32)."""
    g = torch.Generator().manual_seed(seed)
    shapes = DYADIC_SHAPES
    value = torch.randn(n, sum(h * w for h, w in shapes), m, d, generator=g)
    loc = torch.rand(n, lq, m, len(shapes), p, 2, generator=g) * 1.6 - 0.3
    attn = torch.rand(n, lq, m, len(shapes), p, generator=g)
    size = torch.tensor([[w, h] for h, w in shapes], dtype=torch.float32).view(1, 1, 1, -1, 1, 2)
    pixel = torch.randint(-2, 9, (n, 8, m, len(shapes), p, 2), generator=g).float()
    loc[:, :8] = (pixel + 0.5) / size  # whole pixels, some outside the map
    loc[:, 8, ..., 0] = -0.5 / size[..., 0]  # pixel x = -1: only the right-hand corners are inside
    loc[:, 9, ..., 1] = (size[..., 1] + 0.5) / size[..., 1]  # pixel y = H: every corner outside
    loc[:, 10] = 3.0
    return shapes, value, loc, attn


def grads_of(fn, shapes, value, loc, attn):
    inputs = [t.clone().requires_grad_(True) for t in (value, loc, attn)]
    out = fn(inputs[0], shapes, inputs[1], inputs[2])
    out.backward(torch.linspace(-1, 1, out.numel()).view_as(out))
    return [out.detach()] + [t.grad for t in inputs]


def test_gather_gradients_equal_grid_sample_at_integer_and_outside_points():
    shapes, value, loc, attn = special_inputs()
    gather = grads_of(lambda *a: ms_deform_attn(*a, impl="gather"), shapes, value, loc, attn)
    grid = grads_of(lambda *a: ms_deform_attn(*a, impl="grid_sample"), shapes, value, loc, attn)
    for name, a, b in zip(("output", "value", "locations", "weights"), gather, grid):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5, msg=lambda m: f"{name}: {m}")
    assert gather[2][:, 8].abs().sum() > 0.1 and gather[2][:, 9:11].abs().sum() == 0  # on the bounds / outside


def test_gather_equals_transformers_forward_and_backward():
    mask2former = pytest.importorskip("transformers.models.mask2former.modeling_mask2former")
    shapes, value, loc, attn = special_inputs(seed=1)
    ours = grads_of(lambda *a: ms_deform_attn(*a, impl="gather"), shapes, value, loc, attn)
    theirs = grads_of(mask2former.multi_scale_deformable_attention, shapes, value, loc, attn)
    for name, a, b in zip(("output", "value", "locations", "weights"), ours, theirs):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5, msg=lambda m: f"{name}: {m}")


def test_gather_nan_location_reads_nothing_and_gets_zero_gradient():
    """A NaN location counts as outside (the CUDA kernel's behaviour): as if the point were far away."""
    shapes, value, loc, attn = special_inputs(seed=2)
    nan, far = loc.clone(), loc.clone()
    nan[:, 12, 0, 1, 2, 0] = float("nan")
    far[:, 12, 0, 1, 2] = 5.0
    with_nan = grads_of(lambda *a: ms_deform_attn(*a, impl="gather"), shapes, value, nan, attn)
    with_far = grads_of(lambda *a: ms_deform_attn(*a, impl="gather"), shapes, value, far, attn)
    for a, b in zip(with_nan, with_far):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_gather_constants_are_cached_and_work_after_inference_mode():
    from segformers.models.layers.deform_gather import gather_constants

    value, loc, attn = make_inputs(dtype=torch.float32, seed=5)
    gather_constants.cache_clear()
    with torch.inference_mode():
        expected = ms_deform_attn(value, SHAPES, loc, attn, impl="gather")
    got = grads_of(lambda *a: ms_deform_attn(*a, impl="gather"), SHAPES, value, loc, attn)
    assert gather_constants.cache_info().hits >= 1 and gather_constants.cache_info().currsize == 1
    torch.testing.assert_close(got[0], expected, rtol=0, atol=0)
    assert all(torch.isfinite(g).all() and g.abs().sum() > 0 for g in got[1:])
