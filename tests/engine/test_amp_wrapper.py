"""MixedPrecisionOptimWrapper: bf16 autocast without a loss scaler on CPU; enable_amp edits configs."""
import pytest
import torch
from mmengine.config import Config
from torch import nn

from segformers.engine import MixedPrecisionOptimWrapper, enable_amp


def make(dtype=None):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return model, MixedPrecisionOptimWrapper(optimizer=opt, dtype=dtype, device_type="cpu",
                                             clip_grad=dict(max_norm=0.01, norm_type=2))


def test_cpu_bf16_step():
    model, wrapper = make()
    assert wrapper.cast_dtype == torch.bfloat16 and wrapper.loss_scaler is None
    x = torch.randn(3, 4)
    with wrapper.optim_context(model):
        out = model(x)
    assert out.dtype == torch.bfloat16  # the forward ran under autocast
    before = [p.detach().clone() for p in model.parameters()]
    wrapper.update_params(out.float().pow(2).mean())
    step = torch.cat([(p.detach() - b).flatten() for p, b in zip(model.parameters(), before)])
    assert float(step.norm()) == pytest.approx(0.1 * 0.01, rel=1e-4)  # lr x clipped (unscaled) grad norm


def test_state_dict_round_trip_ignores_a_loss_scaler():
    model, wrapper = make()
    state = wrapper.state_dict()
    assert "loss_scaler" not in state
    wrapper.load_state_dict(dict(state, loss_scaler={"scale": 1024.0}))  # e.g. saved by a GPU fp16 run
    assert wrapper.optimizer.param_groups[0]["lr"] == 0.1


def test_fp16_on_cpu_is_refused():
    with pytest.raises(ValueError, match="bfloat16"):
        make("float16")


def test_enable_amp():
    cfg = Config(dict(optim_wrapper=dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=1e-4))))
    enable_amp(cfg)
    assert cfg.optim_wrapper.type == "MixedPrecisionOptimWrapper" and "dtype" not in cfg.optim_wrapper
    enable_amp(cfg, dtype="bfloat16")
    assert cfg.optim_wrapper.dtype == "bfloat16"
    with pytest.raises(ValueError, match="--amp"):
        enable_amp(Config(dict(optim_wrapper=dict(type="ApexOptimWrapper", optimizer={}))))
