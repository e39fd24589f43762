"""Mixed precision on any device: fp16 + dynamic loss scaling on CUDA (as detectron2's AMPTrainer),
bf16 autocast without a loss scaler on CPU.

mmengine's ``AmpOptimWrapper`` asserts a GPU. ``MixedPrecisionOptimWrapper`` reuses it on CUDA and, on
CPU (or with ``dtype='bfloat16'`` anywhere), autocasts to bf16 and steps like a plain ``OptimWrapper``
(bf16 has fp32's exponent range, so nothing needs scaling). Gradient clipping sees true (unscaled)
gradients in both cases. ``enable_amp(cfg)`` is what ``tools/train.py --amp`` calls.

The bf16 switch, everywhere one: ``tools/train.py --amp`` (``--amp-dtype bfloat16`` on CUDA; in a config,
``optim_wrapper.type='MixedPrecisionOptimWrapper'``), ``tools/test.py --amp`` (``test_cfg.fp16=True``:
mmengine's autocast, bf16 on CPU), ``tools/analysis/benchmark.py --amp bfloat16``. The model keeps float32
where numerics need it: the deformable sampling (``MSDeformAttn``), normalisation statistics, the losses and
the matcher's costs; matrix products, convolutions and attention run in bf16.

bf16 is faster than fp32 only where the hardware computes in bf16 (CPUs with AVX-512 BF16 or AMX, recent
GPUs): elsewhere oneDNN / PyTorch emulate it and a bf16 matrix product is several times slower than fp32
(an AVX2-only AMD EPYC: a 5376x256 by 256x1024 product 0.76 s against 0.069 s, one thread).
:func:`bf16_is_native` tells which, :func:`warn_if_bf16_emulated` says so once.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Union

import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from torch import nn

from ..registry import OPTIM_WRAPPERS

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def _resolve(dtype: Union[str, torch.dtype, None], device_type: str) -> torch.dtype:
    if dtype is None:
        return torch.float16 if device_type == "cuda" else torch.bfloat16
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"AMP dtype must be one of {list(DTYPES)}, got '{dtype}'.")
        dtype = DTYPES[dtype]
    if device_type == "cpu" and dtype != torch.bfloat16:
        raise ValueError("CPU autocast supports bfloat16 only; use dtype='bfloat16' (or None) on CPU.")
    return dtype


def bf16_is_native(device_type: str = "cpu") -> bool:
    """Whether ``device_type`` computes bf16 matrix products natively (CPU: oneDNN's bf16 ISA check)."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    return torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def warn_if_bf16_emulated(device_type: str, what: str) -> bool:
    """Warn (``UserWarning``) that ``what`` runs in emulated bf16 if the device has no bf16 instructions;
    returns whether it warned."""
    if bf16_is_native(device_type):
        return False
    warnings.warn(f"{what}: this {device_type.upper()} has no bf16 instructions (no AVX-512 BF16 / AMX), so bf16 "
                  "matrix products are emulated and several times slower than float32; run in float32 here "
                  "(drop --amp / autocast_dtype).", stacklevel=2)
    return True


@OPTIM_WRAPPERS.register_module()
class MixedPrecisionOptimWrapper(AmpOptimWrapper):
    """AMP optim wrapper that also runs on CPU.

    Args:
        dtype: ``'float16'``, ``'bfloat16'`` or ``None`` (fp16 on CUDA, bf16 on CPU).
        loss_scale: GradScaler setting for fp16 (``'dynamic'``, a float or a dict); unused for bf16.
        device_type: ``'cuda'`` or ``'cpu'``; ``None`` picks CUDA when available.
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``clip_grad``, ``accumulative_counts``).
    """

    def __init__(self, dtype: Union[str, torch.dtype, None] = None, loss_scale: Any = "dynamic",
                 device_type: Optional[str] = None, **kwargs: Any) -> None:
        self.device_type = device_type or ("cuda" if torch.cuda.is_available() else "cpu")
        cast = _resolve(dtype, self.device_type)
        if cast == torch.float16:
            super().__init__(loss_scale=loss_scale, dtype=cast, **kwargs)
        else:
            OptimWrapper.__init__(self, **kwargs)
            self.loss_scaler = None
            self._scale_update_param = None
        self.cast_dtype = cast

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """Scaled backward for fp16, plain backward for bf16."""
        if self.loss_scaler is None:
            OptimWrapper.backward(self, loss, **kwargs)
        else:
            super().backward(loss, **kwargs)

    def step(self, **kwargs: Any) -> None:
        """Unscale + clip + scaler step for fp16; clip + step for bf16."""
        if self.loss_scaler is None:
            OptimWrapper.step(self, **kwargs)
        else:
            super().step(**kwargs)

    def state_dict(self) -> dict:
        """Optimizer state (plus ``loss_scaler`` for fp16)."""
        return OptimWrapper.state_dict(self) if self.loss_scaler is None else super().state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        """Load the optimizer state; a saved ``loss_scaler`` is used only by fp16."""
        if self.loss_scaler is None:
            state_dict = {k: v for k, v in state_dict.items() if k != "loss_scaler"}
        super().load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Gradient-accumulation context of ``OptimWrapper`` plus ``torch.autocast``."""
        with OptimWrapper.optim_context(self, model), torch.autocast(self.device_type, dtype=self.cast_dtype):
            yield


def enable_amp(cfg: Any, dtype: Optional[str] = None) -> Any:
    """Switch ``cfg.optim_wrapper`` to :class:`MixedPrecisionOptimWrapper` (what ``--amp`` does)."""
    wrapper = cfg.optim_wrapper
    if wrapper.get("type", "OptimWrapper") not in ("OptimWrapper", "AmpOptimWrapper", "MixedPrecisionOptimWrapper"):
        raise ValueError(f"--amp replaces OptimWrapper, but the config uses {wrapper['type']}; set AMP there instead.")
    wrapper["type"] = "MixedPrecisionOptimWrapper"
    if dtype is not None:
        wrapper["dtype"] = dtype
    device_type = wrapper.get("device_type") or ("cuda" if torch.cuda.is_available() else "cpu")
    if _resolve(wrapper.get("dtype"), device_type) == torch.bfloat16:
        warn_if_bf16_emulated(device_type, "--amp bfloat16")
    return cfg
