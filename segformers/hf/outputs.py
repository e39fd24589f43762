"""The outputs of the Hugging Face-style model classes, with transformers 5.23's field names and order.

Like transformers' ``ModelOutput``, a field can be read as an attribute, by name (``out["loss"]``) or by
position among the fields that are set (``out[0]``); :meth:`HFOutput.to_tuple` and ``keys()`` skip the
fields left ``None``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Optional, Union

from torch import Tensor


class HFOutput:
    """Mapping-like access to a dataclass's set (non-``None``) fields, in declaration order."""

    def keys(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def values(self) -> list[Any]:
        return [getattr(self, k) for k in self.keys()]

    def items(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in self.keys()]

    def to_tuple(self) -> tuple:
        """The set fields in order (what ``return_dict=False`` returns)."""
        return tuple(self.values())

    def __getitem__(self, key: Union[str, int, slice]) -> Any:
        if isinstance(key, str):
            if key not in self.keys():
                raise KeyError(f"{type(self).__name__} has no set field {key!r}; set fields: {self.keys()}")
            return getattr(self, key)
        return self.to_tuple()[key]

    def __contains__(self, key: str) -> bool:
        return key in self.keys()

    def __iter__(self):  # noqa: ANN204  (iterates over the set field names, like a dict)
        return iter(self.keys())


@dataclass
class Mask2FormerForUniversalSegmentationOutput(HFOutput):
    """Output of :class:`~segformers.hf.Mask2FormerForUniversalSegmentation` (transformers' fields).

    Args:
        loss: scalar, the weighted sum of ``loss_dict``; only with ``mask_labels`` and ``class_labels``.
        class_queries_logits: ``[B, Q, K+1]`` (the last class is "no object").
        masks_queries_logits: ``[B, Q, H/4, W/4]``.
        auxiliary_logits: one ``{"class_queries_logits", "masks_queries_logits"}`` per earlier prediction
            (first = earliest), with ``output_auxiliary_logits=True``.
        encoder_last_hidden_state: the backbone's last map, ``[B, C, H/32, W/32]``.
        pixel_decoder_last_hidden_state: the per-pixel embeddings (mask features), ``[B, mask_dim, H/4, W/4]``.
        transformer_decoder_last_hidden_state: the last decoder layer's query states ``[B, Q, hidden]``.
        encoder_hidden_states: the backbone maps, high -> low resolution (``output_hidden_states=True``).
        pixel_decoder_hidden_states: the multi-scale maps, low -> high resolution (``output_hidden_states``).
        transformer_decoder_hidden_states: the query states ``[B, Q, hidden]``: the input queries, then each
            layer's output (``output_hidden_states=True``).
        attentions: always ``None`` (see ``docs/hf_model.md``).
        loss_dict: the weighted loss terms under transformers' names (``loss_cross_entropy``,
            ``loss_mask``, ``loss_dice``, ``_{i}`` for auxiliary prediction ``i``); a segformers addition.
    """

    loss: Optional[Tensor] = None
    class_queries_logits: Optional[Tensor] = None
    masks_queries_logits: Optional[Tensor] = None
    auxiliary_logits: Optional[list[dict[str, Tensor]]] = None
    encoder_last_hidden_state: Optional[Tensor] = None
    pixel_decoder_last_hidden_state: Optional[Tensor] = None
    transformer_decoder_last_hidden_state: Optional[Tensor] = None
    encoder_hidden_states: Optional[tuple[Tensor, ...]] = None
    pixel_decoder_hidden_states: Optional[tuple[Tensor, ...]] = None
    transformer_decoder_hidden_states: Optional[tuple[Tensor, ...]] = None
    attentions: Optional[tuple[Tensor, ...]] = None
    loss_dict: Optional[dict[str, Tensor]] = None


@dataclass
class MaskFormerForInstanceSegmentationOutput(HFOutput):
    """Output of :class:`~segformers.hf.MaskFormerForInstanceSegmentation` (transformers' fields).

    As :class:`Mask2FormerForUniversalSegmentationOutput`, except: ``transformer_decoder_last_hidden_state``
    is the final (LayerNorm'd) query state; ``transformer_decoder_hidden_states`` are the zero input
    queries, then each layer's output, the last one LayerNorm'd (as transformers returns them);
    ``hidden_states`` concatenates the encoder, pixel-decoder and transformer-decoder hidden states.
    """

    loss: Optional[Tensor] = None
    class_queries_logits: Optional[Tensor] = None
    masks_queries_logits: Optional[Tensor] = None
    auxiliary_logits: Optional[list[dict[str, Tensor]]] = None
    encoder_last_hidden_state: Optional[Tensor] = None
    pixel_decoder_last_hidden_state: Optional[Tensor] = None
    transformer_decoder_last_hidden_state: Optional[Tensor] = None
    encoder_hidden_states: Optional[tuple[Tensor, ...]] = None
    pixel_decoder_hidden_states: Optional[tuple[Tensor, ...]] = None
    transformer_decoder_hidden_states: Optional[tuple[Tensor, ...]] = None
    hidden_states: Optional[tuple[Tensor, ...]] = None
    attentions: Optional[tuple[Tensor, ...]] = None
    loss_dict: Optional[dict[str, Tensor]] = None
