"""The MaskFormer meta-architecture: composition of registry-built parts, shared by both papers."""
from __future__ import annotations

from typing import Any, Optional, Union

import torch
from mmengine.model import BaseModel
from torch import Tensor, nn

from ..registry import (
    AUX_HEADS, BACKBONES, CRITERIA, MODELS, PIXEL_DECODERS, POSTPROCESSORS, TRANSFORMER_DECODERS,
)
from ..structures import (
    MASK_FEATURES, DecoderOutput, FeatureShapes, SegDataSample, Targets, select_features, select_shapes,
)
from .backbones.pretrained import init_pretrained_backbone, split_init_cfg
from .layers.precision import autocast_off

ConfigOrModule = Union[dict, nn.Module]


def _build(registry, cfg: ConfigOrModule, **default_args):  # noqa: ANN001, ANN202
    if isinstance(cfg, nn.Module):
        return cfg
    return registry.build(cfg, default_args=default_args or None)


def check_size_divisor(data_preprocessor: nn.Module, backbone: nn.Module) -> None:
    """Raise ``ValueError`` unless the preprocessor pads to a multiple of the backbone's ``size_divisibility``
    (a preprocessor without ``size_divisor`` pads nothing the model could check)."""
    divisor, need = getattr(data_preprocessor, "size_divisor", None), int(backbone.size_divisibility)
    if divisor is not None and need > 1 and divisor % need:
        raise ValueError(
            f"data_preprocessor.size_divisor={divisor} is not a multiple of backbone {type(backbone).__name__}'s "
            f"size_divisibility={need}: its inputs must be padded to a multiple of {need}. Set "
            f"model.data_preprocessor.size_divisor to a multiple of {need} (e.g. {need})."
        )


@MODELS.register_module()
class MaskFormer(BaseModel):
    """Mask classification segmentor (MaskFormer and Mask2Former differ only in their parts).

    Args:
        backbone / pixel_decoder / transformer_decoder: configs (or built modules) of the parts.
        criterion: set-criterion config; ``None`` builds an inference-only model.
        postprocessor: inference config (see :class:`~segformers.models.postprocess.MaskFormerInference`).
        auxiliary_head: optional training-only head (``AUX_HEADS``, e.g. ``PixelClassificationHead``)
            whose losses join the criterion's; it reads ``auxiliary_head.in_feature``.
        num_classes: K, injected into the decoder, the auxiliary head and the criterion.
        data_preprocessor: normalization / padding config (``SegDataPreprocessor``); its ``size_divisor``
            must be a multiple of the backbone's ``size_divisibility``.

    Wiring: the pixel decoder gets the backbone's ``output_shape()`` as ``input_shape``; the transformer
    decoder and the auxiliary head get the spec bank :attr:`input_shape` (:class:`FeatureShapes`: the
    backbone's and the pixel decoder's declared outputs) and pick what their ``in_feature`` names. At
    forward time :meth:`features` holds the tensors under the same names.

    ``forward(inputs [B,3,H,W], data_samples, mode)``: ``"tensor"`` -> :class:`DecoderOutput`,
    ``"loss"`` -> dict of weighted losses, ``"predict"`` -> samples with ``pred`` results.
    """

    def __init__(
        self,
        *,
        backbone: ConfigOrModule,
        pixel_decoder: ConfigOrModule,
        transformer_decoder: ConfigOrModule,
        num_classes: int,
        criterion: Optional[ConfigOrModule] = None,
        postprocessor: Optional[dict] = None,
        auxiliary_head: Optional[ConfigOrModule] = None,
        data_preprocessor: Optional[ConfigOrModule] = None,
        init_cfg: Optional[dict] = None,
    ) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type="SegDataPreprocessor")
        super().__init__(data_preprocessor=_build(MODELS, data_preprocessor), init_cfg=init_cfg)
        self.num_classes = num_classes
        backbone, self.backbone_init_cfg = split_init_cfg(backbone)
        self.backbone = _build(BACKBONES, backbone)
        check_size_divisor(self.data_preprocessor, self.backbone)
        self.pixel_decoder = _build(PIXEL_DECODERS, pixel_decoder, input_shape=self.backbone.output_shape())
        self.input_shape = FeatureShapes(
            self.backbone.output_shape(), self.pixel_decoder.output_shape(),
            backbone_name=f"backbone {type(self.backbone).__name__}",
            pixel_decoder_name=f"pixel decoder {type(self.pixel_decoder).__name__}",
        )
        self.transformer_decoder = _build(
            TRANSFORMER_DECODERS, transformer_decoder, num_classes=num_classes, input_shape=self.input_shape
        )
        dec = self.transformer_decoder
        select_shapes(f"Transformer decoder {type(dec).__name__}", self.input_shape, dec.in_feature,
                      dec.num_feature_levels)
        self.criterion = None if criterion is None else _build(CRITERIA, criterion, num_classes=num_classes)
        self.postprocessor = POSTPROCESSORS.build(postprocessor or dict(type="MaskFormerInference"))
        self.auxiliary_head = None
        if auxiliary_head is not None:
            self.auxiliary_head = _build(
                AUX_HEADS, auxiliary_head, num_classes=num_classes, input_shape=self.input_shape
            )
            select_shapes(f"Auxiliary head {type(self.auxiliary_head).__name__}", self.input_shape,
                          self.auxiliary_head.in_feature)

    def init_weights(self) -> None:
        """mmengine's ``init_weights``, then the backbone's ``init_cfg`` (pretrained weights), if any."""
        super().init_weights()
        if self.backbone_init_cfg:
            init_pretrained_backbone(self.backbone, self.backbone_init_cfg)

    def set_dataset_meta(self, meta: dict) -> None:
        """Take a dataset's metainfo (``classes``, ``is_thing``): refuse a dataset whose number of classes
        is not ``num_classes``, and give the postprocessor the thing classes unless its config names them.

        Called by ``DatasetMetaHook`` when a run's loop starts and by ``segformers.apis.init_model``."""
        classes = list(meta.get("classes") or [])
        if classes and len(classes) != self.num_classes:
            raise ValueError(
                f"The model has num_classes={self.num_classes}, but its dataset has {len(classes)} classes "
                f"({classes[:4]}{' ...' if len(classes) > 4 else ''}). Set model.num_classes={len(classes)} "
                f"in the config (--cfg-options model.num_classes={len(classes)}), or use the dataset the "
                "model was made for."
            )
        if getattr(self.postprocessor, "thing_ids", None) is None and meta.get("is_thing"):
            self.postprocessor.thing_ids = [i for i, t in enumerate(meta["is_thing"]) if t]

    # --- forward ----------------------------------------------------------------------------
    def features(self, inputs: Tensor) -> dict[str, Any]:
        """The feature bank of ``[B, 3, H, W]`` images: the backbone's maps and the pixel decoder's outputs
        (``mask_features``, ``multi_scale``, ``encoder``), under the names of :attr:`input_shape`."""
        backbone_features = self.backbone(inputs)
        return {**backbone_features, **self.pixel_decoder(backbone_features).as_features()}

    def decode(self, features: dict[str, Any]) -> DecoderOutput:
        """The transformer decoder on what its ``in_feature`` names in the feature bank."""
        dec = self.transformer_decoder
        return dec(select_features(features, dec.in_feature, dec.num_feature_levels), features[MASK_FEATURES])

    def extract(self, inputs: Tensor) -> DecoderOutput:
        """``[B, 3, H, W]`` normalized, padded images -> per-layer class and mask logits."""
        return self.decode(self.features(inputs))

    def forward(self, inputs: Tensor, data_samples: Optional[list] = None, mode: str = "tensor"):  # noqa: ANN201
        if mode == "tensor":
            return self.extract(inputs)
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        raise ValueError(f"MaskFormer.forward: unknown mode '{mode}'; use 'tensor', 'loss' or 'predict'.")

    def loss(self, inputs: Tensor, data_samples: list[SegDataSample]) -> dict[str, Tensor]:
        """Weighted losses of every prediction set; targets are the samples' padded ``gt``."""
        if self.criterion is None:
            raise RuntimeError("This model was built without a criterion; add model.criterion to train it.")
        features = self.features(inputs)
        targets: list[Targets] = [s.gt for s in data_samples]
        losses = self.criterion(self.decode(features), targets)
        if self.auxiliary_head is not None:
            x = select_features(features, self.auxiliary_head.in_feature)[0]
            losses.update(self.auxiliary_head.loss(x, targets))
        return losses

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: Optional[list[SegDataSample]] = None) -> list[SegDataSample]:
        """Post-processed results per image in ``sample.pred`` at the original image size.

        The postprocessor gets the decoder's low-resolution mask logits and the padded input size as
        ``batch_input_shape`` in its metainfo; it resizes the masks itself."""
        outputs = self.extract(inputs)
        pad_size = inputs.shape[-2:]
        if data_samples is None:
            data_samples = [SegDataSample(metainfo=dict(img_shape=tuple(pad_size))) for _ in range(len(inputs))]
        with autocast_off(inputs.device.type):  # scores, resizes and matrix NMS in float32 under --amp too
            for i, sample in enumerate(data_samples):
                meta = {"batch_input_shape": tuple(pad_size), **sample.metainfo}
                sample.pred = self.postprocessor(outputs.pred_logits[i], outputs.pred_masks[i], meta)
        return data_samples
