"""WeightedGather: embedding_bag's forward, our backward; gradients must equal PyTorch's own."""
import pytest
import torch
import torch.nn.functional as F

from segformers.models.layers.weighted_gather import weighted_gather


def _problem(index_dtype: torch.dtype, dtype: torch.dtype = torch.float32, seed: int = 0):  # noqa: ANN202
    g = torch.Generator().manual_seed(seed)
    rows, bags, taps, d = 37, 50, 12, 5
    index = torch.randint(0, rows, (bags, taps), generator=g).to(index_dtype)
    index[0] = 3  # one bag whose taps all hit the same row; rows 30-36 never hit below
    index = torch.where(index >= 30, index - 30, index)
    table = torch.randn(rows, d, generator=g).to(dtype)
    weights = torch.rand(bags, taps, generator=g).to(dtype)
    grad_out = torch.randn(bags, d, generator=g).to(dtype)
    return index, table, weights, grad_out


def _grads(fn, index, table, weights, grad_out):  # noqa: ANN001, ANN202
    t, w = table.clone().requires_grad_(True), weights.clone().requires_grad_(True)
    out = fn(index, t, w)
    out.backward(grad_out)
    return out.detach(), t.grad, w.grad


def _reference(index, table, weights):  # noqa: ANN001, ANN202
    return F.embedding_bag(index, table, per_sample_weights=weights, mode="sum")


@pytest.mark.parametrize("index_dtype", [torch.int32, torch.int64])
def test_forward_and_gradients_equal_embedding_bag(index_dtype):
    problem = _problem(index_dtype)
    ours = _grads(weighted_gather, *problem)
    ref = _grads(_reference, *problem)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert ours[1][30:].abs().sum() == 0  # rows no tap reads get exactly zero gradient
    assert ours[1][3].abs().sum() > 0


def test_gradients_match_explicit_sum_in_float64():
    index, table, weights, grad_out = _problem(torch.int64, torch.float64)
    _, g_table, g_weights = _grads(weighted_gather, index, table, weights, grad_out)
    want_table = torch.zeros_like(table)
    for b in range(index.shape[0]):
        for t in range(index.shape[1]):
            want_table[index[b, t]] += weights[b, t] * grad_out[b]
    want_weights = (table[index] * grad_out[:, None]).sum(-1)
    torch.testing.assert_close(g_table, want_table, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_weights, want_weights, rtol=1e-12, atol=1e-12)


def test_bf16_gradients_close_and_keep_dtype():
    index, table, weights, grad_out = _problem(torch.int64)
    _, t32, w32 = _grads(weighted_gather, index, table, weights, grad_out)
    _, t16, w16 = _grads(weighted_gather, index, table.bfloat16(), weights.bfloat16(), grad_out.bfloat16())
    assert t16.dtype == w16.dtype == torch.bfloat16
    torch.testing.assert_close(t16.float(), t32, rtol=0.05, atol=0.05)
    torch.testing.assert_close(w16.float(), w32, rtol=0.05, atol=0.05)


def test_backward_is_bitwise_deterministic():
    problem = _problem(torch.int64, seed=3)
    first, second = _grads(weighted_gather, *problem), _grads(weighted_gather, *problem)
    for a, b in zip(first, second):
        assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("index_dtype", [torch.int32, torch.int64])
def test_tap_dots_on_cpu_in_every_dtype(dtype, index_dtype):
    """On CPU every dtype takes ``sampled_addmm`` (bf16 widened to fp32, the result in bf16) and gives the
    per-tap dot products (the gather + ``bmm`` path of CUDA: tests/models/test_cuda.py)."""
    from segformers.models.layers.weighted_gather import _tap_dots

    index, table, _, grad_out = _problem(index_dtype, torch.float64, seed=1)
    index[:, 1] = index[:, 0]  # a row tapped twice in one bag
    want = (table[index.long()] * grad_out[:, None]).sum(-1)
    got = _tap_dots(index.reshape(-1), table.to(dtype), grad_out.to(dtype), index.shape[1])
    assert got.shape == index.shape and got.dtype == dtype
    tol = 1e-12 if dtype == torch.float64 else (1e-5 if dtype == torch.float32 else 0.1)
    torch.testing.assert_close(got.double(), want, rtol=tol, atol=tol)
    # out_dtype=fp32 keeps the fp32 sums: exact to fp32 rounding for the (rounded) low-precision operands
    wide = _tap_dots(index.reshape(-1), table.to(dtype), grad_out.to(dtype), index.shape[1], torch.float32)
    rounded = (table.to(dtype).double()[index.long()] * grad_out.to(dtype).double()[:, None]).sum(-1)
    assert wide.dtype == torch.float32
    torch.testing.assert_close(wide.double(), rounded, rtol=1e-5, atol=1e-5)


def test_corner_layout_gives_the_gradients_of_the_plain_path():
    """Bilinear taps of the deformable attention (points in and outside the maps, two images, two levels):
    the corner-grouped table gradient equals the plain one, and the layout does not touch the rest."""
    from segformers.models.layers.deform_gather import _padded_table, _taps, gather_constants

    g = torch.Generator().manual_seed(4)
    shapes, n, lq, heads, d, points = ((5, 7), (3, 4)), 2, 6, 2, 3, 2
    value = torch.randn(n, sum(h * w for h, w in shapes), heads, d, generator=g, dtype=torch.float64)
    loc = torch.rand(n, lq, heads, len(shapes), points, 2, generator=g, dtype=torch.float64) * 1.6 - 0.3
    attn = torch.rand(n, lq, heads, len(shapes), points, generator=g, dtype=torch.float64)
    table = _padded_table(value, shapes)
    consts = gather_constants(shapes, n, heads, points, torch.float64, value.device)
    index, weights, _ = _taps(loc, attn, consts)
    grad_out = torch.randn(index.shape[0], d, generator=g, dtype=torch.float64)
    layout = consts.layout
    assert layout.period * n == table.shape[1] * heads * n == table.numel() // d
    plain = _grads(weighted_gather, index, table.view(-1, d), weights, grad_out)
    grouped = _grads(lambda i, t, w: weighted_gather(i, t, w, layout), index, table.view(-1, d), weights, grad_out)
    for a, b in zip(plain, grouped):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-12)
    per_block = [plain[1].view(n, -1, d)[:, s:e].abs().sum() for s, e, _ in layout.blocks]
    assert all(v > 0.1 for v in per_block)  # both levels receive gradient
    with pytest.raises(ValueError, match="groups of 4"):
        weighted_gather(index[:, :6], table.view(-1, d), weights[:, :6], layout)
    with pytest.raises(ValueError, match="corner 0 the offset 0"):
        weighted_gather(index, table.view(-1, d), weights, layout._replace(blocks=[(0, 10, (1, 2, 3, 4))]))
