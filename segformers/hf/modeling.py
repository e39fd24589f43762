"""transformers-style model classes over the segformers segmentor (composition, no copy of the model).

``Mask2FormerForUniversalSegmentation`` and ``MaskFormerForInstanceSegmentation`` load a local
``save_pretrained`` folder or a segformers folder, answer transformers' call signature and output fields
(``loss`` when ``mask_labels`` and ``class_labels`` are given) and write folders transformers loads.
What differs from transformers, and why, is in ``docs/hf_model.md``.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Iterator, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from segformers.structures import DecoderOutput, PixelDecoderOutput, Targets

from .folders import load_folder, save_hf_folder
from .hf_config import hf_config_from_model_cfg
from .outputs import Mask2FormerForUniversalSegmentationOutput, MaskFormerForInstanceSegmentationOutput

HF_LOSS_NAMES = {"loss_ce": "loss_cross_entropy"}


class HFConfig(dict):
    """The transformers ``config.json`` as a dict with attribute access (``config.id2label[0]``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"config has no field {name!r}") from None


def _config_view(hf_config: Optional[dict], model_cfg: Optional[dict], class_names: Sequence[str],
                 num_classes: int) -> HFConfig:
    if hf_config is None and model_cfg is not None:
        try:
            hf_config = hf_config_from_model_cfg(model_cfg, class_names or None)
        except ValueError:  # not expressible in transformers: the fields the forward reads are enough
            hf_config = None
    names = list(class_names) or [f"LABEL_{i}" for i in range(num_classes)]
    view = HFConfig(hf_config or {})
    view["id2label"] = {int(k): v for k, v in (view.get("id2label") or dict(enumerate(names))).items()}
    view["label2id"] = {v: k for k, v in view["id2label"].items()}
    view["num_labels"] = len(view["id2label"])
    for key, default in (("output_hidden_states", False), ("return_dict", True), ("output_auxiliary_logits", None)):
        view.setdefault(key, default)
    return view


@contextmanager
def _outputs_of(*modules: nn.Module) -> Iterator[list]:
    """Record each module's forward output (list aligned with ``modules``) while the block runs."""
    seen: list = [None] * len(modules)

    def hook(index: int):  # noqa: ANN202
        def keep(_module: nn.Module, _args: tuple, output: Any) -> None:
            seen[index] = output
        return keep

    handles = [m.register_forward_hook(hook(i)) for i, m in enumerate(modules)]
    try:
        yield seen
    finally:
        for h in handles:
            h.remove()


def labels_to_targets(mask_labels: Sequence[Tensor], class_labels: Sequence[Tensor], batch: int,
                      device: torch.device) -> list[Targets]:
    """transformers' ``mask_labels`` (per image ``[N, H, W]``, 0/1) and ``class_labels`` (``[N]``) -> Targets."""
    if len(mask_labels) != batch or len(class_labels) != batch:
        raise ValueError(f"mask_labels and class_labels need one entry per image ({batch}), got "
                         f"{len(mask_labels)} and {len(class_labels)}.")
    targets = []
    for i, (masks, classes) in enumerate(zip(mask_labels, class_labels)):
        if masks.ndim != 3 or classes.ndim != 1 or masks.shape[0] != classes.shape[0]:
            raise ValueError(f"image {i}: mask_labels must be [N, H, W] and class_labels [N] with the same N, got "
                             f"{tuple(masks.shape)} and {tuple(classes.shape)}.")
        targets.append(Targets(classes.to(device=device, dtype=torch.int64), masks.to(device)))
    return targets


class _HFSegmentation(nn.Module):
    """The shared machinery; the subclasses fix the family, the signature and the output fields."""

    family: ClassVar[str]
    output_class: ClassVar[type]

    def __init__(self, segmentor: nn.Module, *, model_cfg: Optional[dict] = None, hf_config: Optional[dict] = None,
                 class_names: Sequence[str] = ()) -> None:
        super().__init__()
        self.segmentor = segmentor
        self.model_cfg = model_cfg
        self._hf_config = hf_config
        self.config = _config_view(hf_config, model_cfg, class_names, int(segmentor.num_classes))

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Union[str, Path], **kwargs: Any) -> "_HFSegmentation":
        """Load a local folder: transformers' ``config.json`` + ``model.safetensors``, or segformers'
        ``config.py`` + ``model.pth``. Returns the model in eval mode, as transformers does.
        Keyword arguments other than ``map_location``/``device`` are refused (no hub, no quantization)."""
        device = kwargs.pop("device", kwargs.pop("map_location", "cpu"))
        if kwargs:
            raise TypeError(f"from_pretrained got unsupported arguments {sorted(kwargs)}; it reads a local folder "
                            "(and takes device=...).")
        loaded = load_folder(pretrained_model_name_or_path)
        if loaded.family != cls.family:
            other = {v.family: k for k, v in _CLASSES.items()}[loaded.family]
            raise ValueError(f"{pretrained_model_name_or_path} holds a {loaded.family} model; load it with "
                             f"segformers.hf.{other}.from_pretrained.")
        model = cls(loaded.segmentor, model_cfg=loaded.model_cfg, hf_config=loaded.hf_config,
                    class_names=loaded.class_names)
        return model.to(device).eval()

    def save_pretrained(self, save_directory: Union[str, Path]) -> Path:
        """Write ``config.json`` and ``model.safetensors`` that transformers' ``from_pretrained`` loads."""
        names = [self.config.id2label[i] for i in range(self.config.num_labels)]
        return save_hf_folder(self.segmentor, self.model_cfg, save_directory, self._hf_config, names)

    # --- the forward -----------------------------------------------------------------------------
    def _run(self, pixel_values: Tensor, mask_labels: Optional[Sequence[Tensor]],
             class_labels: Optional[Sequence[Tensor]], pixel_mask: Optional[Tensor], hidden: Optional[bool],
             auxiliary: Optional[bool], attentions: Optional[bool], return_dict: Optional[bool]) -> Any:
        _check_inputs(pixel_values, pixel_mask)
        if attentions:
            warnings.warn("output_attentions=True: attentions are not returned (None); the decoders use fused "
                          "attention, see docs/hf_model.md.", stacklevel=3)
        if (mask_labels is None) != (class_labels is None):
            raise ValueError("Pass both mask_labels and class_labels (as the image processor returns them) to "
                             "get a loss, or neither.")
        param = next(self.segmentor.parameters())
        x = pixel_values.to(device=param.device, dtype=param.dtype)
        with _outputs_of(self.segmentor.backbone, self.segmentor.pixel_decoder) as seen:
            out: DecoderOutput = self.segmentor.extract(x)
        feats, pixel = seen
        fields = self._fields(out, feats, pixel, self.config.output_hidden_states if hidden is None else hidden)
        if mask_labels is not None:
            fields["loss_dict"] = self._loss_dict(out, mask_labels, class_labels, x)
            fields["loss"] = sum(fields["loss_dict"].values())
        auxiliary = self.config.output_auxiliary_logits if auxiliary is None else auxiliary
        if auxiliary:
            fields["auxiliary_logits"] = [{"class_queries_logits": c, "masks_queries_logits": m}
                                          for c, m in zip(out.class_logits[:-1], out.mask_logits[:-1])]
        output = self.output_class(class_queries_logits=out.class_logits[-1],
                                   masks_queries_logits=out.mask_logits[-1], **fields)
        return output if (self.config.return_dict if return_dict is None else return_dict) else output.to_tuple()

    def _loss_dict(self, out: DecoderOutput, mask_labels: Sequence[Tensor], class_labels: Sequence[Tensor],
                   x: Tensor) -> dict[str, Tensor]:
        seg = self.segmentor
        if seg.criterion is None:
            raise RuntimeError("This model has no criterion (model.criterion); it cannot compute a loss.")
        if getattr(seg, "auxiliary_head", None) is not None:
            raise RuntimeError("This model has an auxiliary_head, which transformers' training call cannot feed; "
                               "train it with tools/train.py.")
        targets = labels_to_targets(mask_labels, class_labels, x.shape[0], x.device)
        losses = seg.criterion(out, targets)
        return {_hf_loss_name(k): v for k, v in losses.items()}

    def _fields(self, out: DecoderOutput, feats: dict[str, Tensor], pixel: PixelDecoderOutput,
                hidden: bool) -> dict[str, Any]:
        raise NotImplementedError


def _hf_loss_name(key: str) -> str:
    for ours, theirs in HF_LOSS_NAMES.items():
        if key == ours or key.startswith(ours + "_"):
            return theirs + key[len(ours):]
    return key


def _check_inputs(pixel_values: Tensor, pixel_mask: Optional[Tensor]) -> None:
    if pixel_values.ndim != 4 or pixel_values.shape[1] != 3:
        raise ValueError(f"pixel_values must be [B, 3, H, W], got shape {tuple(pixel_values.shape)}.")
    want = (pixel_values.shape[0], *pixel_values.shape[2:])
    if pixel_mask is not None and tuple(pixel_mask.shape) != want:
        raise ValueError(f"pixel_mask must be [B, H, W] = {want}, got {tuple(pixel_mask.shape)}.")


class Mask2FormerForUniversalSegmentation(_HFSegmentation):
    """transformers' ``Mask2FormerForUniversalSegmentation`` over a segformers Mask2Former.

    ``forward(pixel_values [B, 3, H, W], mask_labels=None, class_labels=None, pixel_mask=None,
    output_hidden_states=None, output_auxiliary_logits=None, output_attentions=None, return_dict=None)``
    -> :class:`~segformers.hf.outputs.Mask2FormerForUniversalSegmentationOutput` (a tuple of its set fields
    with ``return_dict=False``). ``pixel_mask`` is checked and, as in transformers, not used.
    """

    family = "mask2former"
    output_class = Mask2FormerForUniversalSegmentationOutput

    def forward(self, pixel_values: Tensor, mask_labels: Optional[Sequence[Tensor]] = None,
                class_labels: Optional[Sequence[Tensor]] = None, pixel_mask: Optional[Tensor] = None,
                output_hidden_states: Optional[bool] = None, output_auxiliary_logits: Optional[bool] = None,
                output_attentions: Optional[bool] = None, return_dict: Optional[bool] = None) -> Any:
        return self._run(pixel_values, mask_labels, class_labels, pixel_mask, output_hidden_states,
                         output_auxiliary_logits, output_attentions, return_dict)

    def _fields(self, out: DecoderOutput, feats: dict[str, Tensor], pixel: PixelDecoderOutput,
                hidden: bool) -> dict[str, Any]:
        states = out.hidden_states
        fields = dict(encoder_last_hidden_state=list(feats.values())[-1],
                      pixel_decoder_last_hidden_state=pixel.mask_features,
                      transformer_decoder_last_hidden_state=None if states is None else states[-1])
        if hidden:
            fields.update(encoder_hidden_states=tuple(feats.values()),
                          pixel_decoder_hidden_states=tuple(pixel.multi_scale_features),
                          transformer_decoder_hidden_states=None if states is None else tuple(states))
        return fields


class MaskFormerForInstanceSegmentation(_HFSegmentation):
    """transformers' ``MaskFormerForInstanceSegmentation`` over a segformers MaskFormer.

    ``forward(pixel_values, mask_labels=None, class_labels=None, pixel_mask=None, output_auxiliary_logits=None,
    output_hidden_states=None, output_attentions=None, return_dict=None)`` (transformers' argument order)
    -> :class:`~segformers.hf.outputs.MaskFormerForInstanceSegmentationOutput`.
    """

    family = "maskformer"
    output_class = MaskFormerForInstanceSegmentationOutput

    def forward(self, pixel_values: Tensor, mask_labels: Optional[Sequence[Tensor]] = None,
                class_labels: Optional[Sequence[Tensor]] = None, pixel_mask: Optional[Tensor] = None,
                output_auxiliary_logits: Optional[bool] = None, output_hidden_states: Optional[bool] = None,
                output_attentions: Optional[bool] = None, return_dict: Optional[bool] = None) -> Any:
        return self._run(pixel_values, mask_labels, class_labels, pixel_mask, output_hidden_states,
                         output_auxiliary_logits, output_attentions, return_dict)

    def _final_norm(self) -> nn.Module:
        decoder = self.segmentor.transformer_decoder
        try:
            return decoder.transformer["decoder"].norm
        except (AttributeError, KeyError, TypeError):
            raise TypeError(f"{type(decoder).__name__} has no DETR final norm (transformer.decoder.norm); "
                            "MaskFormerForInstanceSegmentation wraps StandardTransformerDecoder.") from None

    def _fields(self, out: DecoderOutput, feats: dict[str, Tensor], pixel: PixelDecoderOutput,
                hidden: bool) -> dict[str, Any]:
        states = None
        if out.hidden_states is not None:  # transformers: raw layer outputs, the last one LayerNorm'd
            states = (*out.hidden_states[:-1], self._final_norm()(out.hidden_states[-1]))
        fields = dict(encoder_last_hidden_state=list(feats.values())[-1],
                      pixel_decoder_last_hidden_state=pixel.mask_features,
                      transformer_decoder_last_hidden_state=None if states is None else states[-1])
        if hidden:
            encoder, pixel_states = tuple(feats.values()), tuple(pixel.multi_scale_features)
            fields.update(encoder_hidden_states=encoder, pixel_decoder_hidden_states=pixel_states,
                          transformer_decoder_hidden_states=states,
                          hidden_states=encoder + pixel_states + (states or ()))
        return fields


_CLASSES = {"Mask2FormerForUniversalSegmentation": Mask2FormerForUniversalSegmentation,
            "MaskFormerForInstanceSegmentation": MaskFormerForInstanceSegmentation}
