"""Build a model from a config, load weights, and get raw Hugging Face-named logits."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import torch
from mmengine.config import Config
from torch import Tensor

from ..models.build import build_model, load_config
from ..structures import SegmentationOutput
from ..weights_io import load_weights, read_checkpoint
from .inference import Predictor, dataset_meta, remember_predictor, test_pipeline


def init_model(
    config: Union[str, Path, Config],
    checkpoint: Optional[Union[str, Path]] = None,
    device: str = "cpu",
) -> torch.nn.Module:
    """Build the model of ``config``, load ``checkpoint`` if given, move to ``device``, eval mode.

    The dataset metadata (classes, which are things, palette) is applied once, through the model's
    ``set_dataset_meta``: the config's (its test dataset's ``METAINFO`` and ``metainfo`` overrides, see
    :func:`~segformers.apis.inference.dataset_meta`) when it names classes, else the checkpoint's
    ``meta.dataset_meta`` (written by a training run). ``inference(model, ...)`` then uses the config's
    test pipeline and this metadata (:func:`~segformers.apis.inference.predictor_of`).
    """
    cfg = load_config(config)
    model = build_model(cfg)
    meta = dataset_meta(cfg)
    if checkpoint is not None:
        state, ckpt_meta = read_checkpoint(checkpoint)
        load_weights(model, state)
        if not meta.get("classes"):
            meta = dict(ckpt_meta.get("dataset_meta") or {})
    model = model.to(device).eval()
    predictor = Predictor(model, test_pipeline(cfg), meta)
    remember_predictor(model, predictor.pipeline, predictor.meta)
    return model


def forward_logits(
    model: torch.nn.Module, pixel_values: Tensor, pixel_mask: Optional[Tensor] = None
) -> SegmentationOutput:
    """Raw logits for already-normalized ``pixel_values [B, 3, H, W]`` (what the HF model takes).

    ``pixel_mask [B, H, W]`` is accepted for API compatibility; like the official code (and HF), the
    model does not use it: padded pixels are seen as zeros. Returns ``class_queries_logits [B,Q,K+1]``,
    ``masks_queries_logits [B,Q,H/4,W/4]`` and ``auxiliary_logits`` (one dict per earlier layer).
    NaN or infinite ``pixel_values`` raise ``ValueError`` (they would make every logit NaN), and so do
    non-finite logits from finite inputs (weights holding NaN / inf, or an overflow in low precision).
    """
    if pixel_values.ndim != 4 or pixel_values.shape[1] != 3:
        raise ValueError(f"pixel_values must be [B, 3, H, W], got shape {tuple(pixel_values.shape)}.")
    finite = torch.isfinite(pixel_values).flatten(1).all(1)
    if not bool(finite.all()):
        bad = pixel_values[~finite]
        raise ValueError(
            f"pixel_values hold {int(torch.isnan(bad).sum())} NaN and {int(torch.isinf(bad).sum())} infinite values "
            f"(images {torch.nonzero(~finite).flatten().tolist()} of the batch); check the image decoding and the "
            "normalization (a std of 0?) before the model."
        )
    if pixel_mask is not None and tuple(pixel_mask.shape) != (pixel_values.shape[0], *pixel_values.shape[2:]):
        raise ValueError(
            f"pixel_mask must be [B, H, W] = {(pixel_values.shape[0], *pixel_values.shape[2:])}, "
            f"got {tuple(pixel_mask.shape)}."
        )
    param = next(model.parameters())
    out = model.extract(pixel_values.to(device=param.device, dtype=param.dtype))
    for name, logits in (("class", out.class_logits[-1]), ("mask", out.mask_logits[-1])):
        if not bool(torch.isfinite(logits).all()):
            raise ValueError(
                f"the model gave non-finite {name} logits for finite pixel_values: check its weights for NaN / inf "
                f"(e.g. torch.isfinite over model.state_dict()) or run it in float32 (it runs in {param.dtype})."
            )
    return SegmentationOutput.from_decoder_output(out)
