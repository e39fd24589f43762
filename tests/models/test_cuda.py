"""The CUDA path: the deformable attention's two implementations and their backward on the GPU, a tiny
Mask2Former's outputs on CUDA against CPU, and mixed-precision training steps (fp16 with loss scaling,
bf16) with the official fp32 islands. Skipped where CUDA is not available (CI has no GPU)."""
from __future__ import annotations

import pytest
import torch

from segformers.engine import MixedPrecisionOptimWrapper
from segformers.models.layers.ms_deform_attn import ms_deform_attn
from segformers.models.layers.weighted_gather import weighted_gather
from tests.models.test_ms_deform_attn import SHAPES, make_inputs
from tests.models.test_segmentor import M2F_TINY, samples, tiny
from tests.models.test_weighted_gather import _grads, _reference

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")


def _op_grads(impl: str, value, loc, attn, grad_out):  # noqa: ANN001, ANN202
    leaves = [t.detach().clone().requires_grad_(True) for t in (value, loc, attn)]
    out = ms_deform_attn(*leaves[:1], SHAPES, *leaves[1:], impl=impl)
    out.backward(grad_out)
    return [out.detach(), *(t.grad for t in leaves)]


@pytest.mark.parametrize("impl", ["gather", "grid_sample"])
def test_ms_deform_attn_on_cuda_matches_cpu(impl):
    """Forward and the gradients of value, locations and weights on CUDA equal the CPU's in float64."""
    value, loc, attn = make_inputs(torch.float64, seed=4)
    grad_out = torch.randn(value.shape[0], loc.shape[1], value.shape[2] * value.shape[3], dtype=torch.float64)
    want = _op_grads("gather", value, loc, attn, grad_out)
    got = _op_grads(impl, value.to(CUDA), loc.to(CUDA), attn.to(CUDA), grad_out.to(CUDA))
    for g, w in zip(got, want):
        assert g.device.type == "cuda"
        torch.testing.assert_close(g.cpu(), w, rtol=1e-9, atol=1e-9)
    assert want[2].abs().max() > 1e-3  # the location gradient is not trivially zero


def test_cuda_default_impl_and_deterministic_mode():
    """On CUDA the default is ``grid_sample`` (its forward bit for bit; its backward accumulates with
    atomics, in any order); under deterministic algorithms it is the gather path, whose backward gives
    bitwise equal gradients run after run."""
    value, loc, attn = (t.float().to(CUDA) for t in make_inputs(seed=5))
    grad_out = torch.randn(value.shape[0], loc.shape[1], value.shape[2] * value.shape[3], device=CUDA)
    default, grid = (_op_grads(impl, value, loc, attn, grad_out) for impl in (None, "grid_sample"))
    assert torch.equal(default[0], grid[0])
    assert not torch.equal(default[0], _op_grads("gather", value, loc, attn, grad_out)[0])
    torch.testing.assert_close(default[1:], grid[1:], rtol=1e-5, atol=1e-6)
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        first, second = (_op_grads(None, value, loc, attn, grad_out) for _ in range(2))
    finally:
        torch.use_deterministic_algorithms(previous)
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    torch.testing.assert_close(first, default, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_weighted_gather_backward_on_cuda(dtype):
    """Our backward (sort + ``embedding_bag``; ``index_select`` + ``bmm`` on CUDA) against PyTorch's own
    backward in float64 on the same (rounded) inputs: exact to fp32 rounding, or within low-precision
    accumulation error and no worse than PyTorch's own backward in that precision."""
    g = torch.Generator().manual_seed(0)
    index = torch.randint(0, 40, (300, 16), generator=g).to(CUDA)
    inputs = [torch.randn(40, 8, generator=g), torch.rand(300, 16, generator=g), torch.randn(300, 8, generator=g)]
    table, weights, grad_out = (t.to(CUDA, dtype) for t in inputs)
    reference = _grads(_reference, index, table.double(), weights.double(), grad_out.double())
    ours = _grads(weighted_gather, index, table, weights, grad_out)
    try:
        theirs = _grads(_reference, index, table, weights, grad_out)
    except NotImplementedError:  # PyTorch has no CUDA bf16 backward for per-sample weights; ours does
        assert dtype == torch.bfloat16
        theirs = (None,) * 3
    for mine, ref, own in zip(ours, reference, theirs):
        assert mine.dtype == dtype
        scale = float(ref.detach().abs().max())
        err = float((mine.detach().double() - ref.detach()).abs().max())
        if dtype == torch.float32:
            assert err < 1e-5 * scale
            continue
        assert err < 0.03 * scale
        if own is not None:
            assert err <= 2 * float((own.detach().double() - ref.detach()).abs().max()) + 1e-6


def _tiny_model_and_batch(seed: int = 0):  # noqa: ANN202
    from segformers.apis import build_model

    torch.manual_seed(seed)
    model = build_model(tiny("mask2former_r50.py", M2F_TINY))
    g = torch.Generator().manual_seed(seed)
    images = [torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8, generator=g) for _ in range(2)]
    return model, dict(inputs=images, data_samples=samples([(64, 64), (64, 64)], num_segments=(3, 2)))


def test_tiny_mask2former_on_cuda_matches_cpu():
    """The same weights give the same class and mask logits (all decoder layers) on CUDA and on CPU."""
    model, batch = _tiny_model_and_batch()
    model.eval()
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False  # fp32 convs, as on CPU
    try:
        with torch.no_grad():
            cpu = model(model.data_preprocessor(batch)["inputs"], mode="tensor")
            model.to(CUDA)
            gpu = model(model.data_preprocessor(batch)["inputs"], mode="tensor")
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    assert gpu.pred_masks.device.type == "cuda"
    for name in ("pred_logits", "pred_masks"):
        torch.testing.assert_close(getattr(gpu, name).cpu(), getattr(cpu, name), rtol=1e-4, atol=1e-4)
    assert cpu.pred_masks.abs().max() > 0.1


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_mixed_precision_training_steps_on_cuda(dtype):
    """Autocast training steps stay finite, keep the official fp32 islands (the deformable pixel decoder's
    outputs, the matcher's costs, the losses) and move every trained parameter."""
    model, batch = _tiny_model_and_batch(seed=1)
    model.to(CUDA).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    # fp16: a first loss scale of 2^10 (default 2^16 overflows the first steps, which the scaler skips)
    wrapper = MixedPrecisionOptimWrapper(optimizer=opt, dtype=dtype, loss_scale=dict(init_scale=2.0**10),
                                         clip_grad=dict(max_norm=0.01, norm_type=2))
    assert (wrapper.loss_scaler is not None) == (dtype == "float16")
    dtypes = {"pixel": set(), "cost": set(), "decoder": set()}
    model.pixel_decoder.register_forward_hook(
        lambda m, i, o: dtypes["pixel"].update(t.dtype for t in (o.mask_features, *o.multi_scale_features)))
    model.transformer_decoder.class_embed.register_forward_hook(lambda m, i, o: dtypes["decoder"].add(o.dtype))
    cost_matrix = model.criterion.matcher.cost_matrix
    model.criterion.matcher.cost_matrix = lambda *a: _record(cost_matrix(*a), dtypes["cost"])
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    for _ in range(4):
        with wrapper.optim_context(model):
            losses = model(**model.data_preprocessor(batch, True), mode="loss")
        assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in losses.values())
        wrapper.update_params(sum(losses.values()))
    assert dtypes["pixel"] == {torch.float32} and dtypes["cost"] == {torch.float32}
    assert dtypes["decoder"] == {getattr(torch, dtype)}  # the transformer decoder does run in low precision
    moved = [n for n, p in model.named_parameters() if p.requires_grad and not torch.equal(p, before[n])]
    assert len(moved) == len(before), sorted(set(before) - set(moved))[:5]


def _record(t: torch.Tensor, into: set) -> torch.Tensor:
    into.add(t.dtype)
    return t


def test_plain_checkpoint_loaded_onto_cuda_restores_arrays_and_rng_states(tmp_path):
    """A resume on a GPU machine maps the checkpoint onto CUDA: numpy arrays and the saved RNG states
    (torch CPU, CUDA, numpy) must still come back and restore the same random streams."""
    import numpy as np

    from segformers.engine.checkpoint import (capture_rng_state, load_local_weights_only, restore_rng_state,
                                              to_plain)

    torch.rand(1, device=CUDA)  # CUDA initialised: its RNG state is captured too
    state = capture_rng_state()
    assert "cuda" in state
    expected = (torch.rand(3), torch.rand(3, device=CUDA).cpu(), np.random.rand(3))
    path = tmp_path / "ckpt.pth"
    torch.save(to_plain({"meta": {"rng_states": [state], "array": np.arange(5, dtype=np.int16)}}), path)
    loaded = load_local_weights_only(str(path), map_location="cuda")
    assert loaded["meta"]["array"].dtype == np.int16 and loaded["meta"]["array"].tolist() == list(range(5))
    restore_rng_state(loaded["meta"]["rng_states"][0])
    again = (torch.rand(3), torch.rand(3, device=CUDA).cpu(), np.random.rand(3))
    assert torch.equal(again[0], expected[0]) and torch.equal(again[1], expected[1])
    assert np.array_equal(again[2], expected[2])


def _backbone_pair_outputs(device: torch.device, dtype: str):  # noqa: ANN202
    """A float32 NCHW ResNet on the CPU and its NHWC copy under its own ``dtype`` autocast on ``device``."""
    from segformers.models.backbones import ResNet

    kw = dict(depth=18, norm="BN", stem_out_channels=16, res2_out_channels=32)
    ref = ResNet(**kw).eval()
    fast = ResNet(**kw, channels_last=True, autocast_dtype=dtype).eval()
    fast.load_state_dict(ref.state_dict())
    fast.to(device)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    return ref(x), fast(x.to(device))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_resnet_speed_options_on_cuda(dtype):
    """NHWC + the backbone's own autocast on CUDA: float32 features within low-precision rounding of fp32."""
    want, got = _backbone_pair_outputs(CUDA, dtype)
    for k in want:
        assert got[k].dtype == torch.float32 and got[k].is_contiguous(memory_format=torch.channels_last)
        err = (got[k].cpu() - want[k]).abs().max().item() / want[k].abs().max().item()
        assert err < 0.05, (k, err)
