"""The MaskFormer meta-architecture: composition of registry-built parts, shared by both papers."""
from __future__ import annotations

import inspect
from typing import Optional, Union

import torch
from mmengine.model import BaseModel
from torch import Tensor, nn

from ..registry import (
    AUX_HEADS, BACKBONES, CRITERIA, MODELS, PIXEL_DECODERS, POSTPROCESSORS, TRANSFORMER_DECODERS,
)
from ..structures import DecoderOutput, PixelDecoderOutput, SegDataSample, Targets
from .backbones.pretrained import init_pretrained_backbone, split_init_cfg

ConfigOrModule = Union[dict, nn.Module]


def _build(registry, cfg: ConfigOrModule, **default_args):  # noqa: ANN001, ANN202
    if isinstance(cfg, nn.Module):
        return cfg
    return registry.build(cfg, default_args=default_args or None)


def _declared_in_feature(
    cfg: ConfigOrModule, registry=TRANSFORMER_DECODERS, what: str = "Transformer decoder"  # noqa: ANN001
) -> str:
    """A part's ``in_feature`` from its config, or its class default."""
    if isinstance(cfg, nn.Module):
        return cfg.in_feature
    if "in_feature" in cfg:
        return cfg["in_feature"]
    cls = cfg["type"] if not isinstance(cfg["type"], str) else registry.get(cfg["type"])
    if cls is None:
        registry.build(cfg)  # raises the registry's unknown-name error
    param = inspect.signature(cls).parameters.get("in_feature")
    if param is None or param.default is inspect.Parameter.empty:
        raise ValueError(f"{what} {cfg['type']} must declare an 'in_feature' argument with a default.")
    return param.default


@MODELS.register_module()
class MaskFormer(BaseModel):
    """Mask classification segmentor (MaskFormer and Mask2Former differ only in their parts).

    Args:
        backbone / pixel_decoder / transformer_decoder: configs (or built modules) of the parts.
        criterion: set-criterion config; ``None`` builds an inference-only model.
        postprocessor: inference config (see :class:`~segformers.models.postprocess.MaskFormerInference`).
        auxiliary_head: optional training-only head (``AUX_HEADS``, e.g. ``PixelClassificationHead``)
            whose losses join the criterion's; it reads ``auxiliary_head.in_feature``.
        num_classes: K, injected into the decoder and the criterion.
        data_preprocessor: normalization / padding config (``SegDataPreprocessor``).

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
        self.pixel_decoder = _build(
            PIXEL_DECODERS, pixel_decoder,
            in_channels=dict(self.backbone.out_channels), in_strides=dict(self.backbone.out_strides),
        )
        in_feature = _declared_in_feature(transformer_decoder)
        self.transformer_decoder = _build(
            TRANSFORMER_DECODERS, transformer_decoder, num_classes=num_classes,
            in_channels=self._source_channels(in_feature, transformer_decoder),
            mask_dim=self.pixel_decoder.mask_dim,
        )
        self._check_levels()
        self.criterion = None if criterion is None else _build(CRITERIA, criterion, num_classes=num_classes)
        self.postprocessor = POSTPROCESSORS.build(postprocessor or dict(type="MaskFormerInference"))
        self.auxiliary_head = None
        if auxiliary_head is not None:
            in_feature = _declared_in_feature(auxiliary_head, AUX_HEADS, "Auxiliary head")
            if in_feature == "multi_scale":
                raise ValueError("auxiliary_head.in_feature='multi_scale' is not supported; use one map: "
                                 "'mask_features', 'encoder' or a backbone level name such as 'res5'.")
            self.auxiliary_head = _build(
                AUX_HEADS, auxiliary_head, num_classes=num_classes,
                in_channels=self._source_channels(in_feature, auxiliary_head),
            )

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

    # --- build-time wiring ------------------------------------------------------------------
    def _source_channels(self, in_feature: str, decoder_cfg: ConfigOrModule) -> int:
        name = decoder_cfg.get("type") if isinstance(decoder_cfg, dict) else type(decoder_cfg).__name__
        pd_name = type(self.pixel_decoder).__name__
        if in_feature == "multi_scale":
            return self.pixel_decoder.multi_scale_channels
        if in_feature == "mask_features":
            return self.pixel_decoder.mask_dim
        if in_feature == "encoder":
            if self.pixel_decoder.encoder_channels is None:
                raise ValueError(
                    f"Transformer decoder {name} reads in_feature='encoder', but pixel decoder {pd_name} "
                    "returns no encoder features. Use TransformerEncoderPixelDecoder or set "
                    "transformer_decoder.in_feature to 'res5' / 'multi_scale'."
                )
            return self.pixel_decoder.encoder_channels
        if in_feature in self.backbone.out_channels:
            return self.backbone.out_channels[in_feature]
        raise ValueError(
            f"Transformer decoder {name} reads in_feature='{in_feature}', which is neither 'multi_scale', "
            f"'encoder', 'mask_features' nor a backbone output {sorted(self.backbone.out_channels)}."
        )

    def _check_levels(self) -> None:
        dec = self.transformer_decoder
        need = dec.num_feature_levels
        dec_name, pd_name = type(dec).__name__, type(self.pixel_decoder).__name__
        if dec.in_feature == "multi_scale":
            have = self.pixel_decoder.num_multi_scale_levels
            if have < need:
                raise ValueError(
                    f"Transformer decoder {dec_name} needs {need} multi-scale feature levels, but pixel "
                    f"decoder {pd_name} provides {have}. Choose a pixel decoder with at least {need} levels "
                    f"or a decoder that reads fewer (transformer_decoder.num_feature_levels)."
                )
        elif need != 1:
            raise ValueError(
                f"Transformer decoder {dec_name} needs {need} feature levels, but in_feature="
                f"'{dec.in_feature}' provides exactly 1. Use in_feature='multi_scale' with a multi-scale "
                f"pixel decoder (e.g. MSDeformAttnPixelDecoder)."
            )

    # --- forward ----------------------------------------------------------------------------
    @staticmethod
    def _single_map(source: str, feats: dict[str, Tensor], pd: PixelDecoderOutput) -> Tensor:
        """The one map an ``in_feature`` other than ``"multi_scale"`` names."""
        if source == "encoder":
            return pd.encoder_features
        if source == "mask_features":
            return pd.mask_features
        return feats[source]

    def _decoder_inputs(self, feats: dict[str, Tensor], pd: PixelDecoderOutput) -> list[Tensor]:
        source = self.transformer_decoder.in_feature
        if source == "multi_scale":
            return list(pd.multi_scale_features[: self.transformer_decoder.num_feature_levels])
        return [self._single_map(source, feats, pd)]

    def extract(self, inputs: Tensor) -> DecoderOutput:
        """``[B, 3, H, W]`` normalized, padded images -> per-layer class and mask logits."""
        return self._extract(inputs)[0]

    def _extract(self, inputs: Tensor) -> tuple[DecoderOutput, dict[str, Tensor], PixelDecoderOutput]:
        feats = self.backbone(inputs)
        pd = self.pixel_decoder(feats)
        return self.transformer_decoder(self._decoder_inputs(feats, pd), pd.mask_features), feats, pd

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
        outputs, feats, pd = self._extract(inputs)
        targets: list[Targets] = [s.gt for s in data_samples]
        losses = self.criterion(outputs, targets)
        if self.auxiliary_head is not None:
            x = self._single_map(self.auxiliary_head.in_feature, feats, pd)
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
        for i, sample in enumerate(data_samples):
            meta = {"batch_input_shape": tuple(pad_size), **sample.metainfo}
            sample.pred = self.postprocessor(outputs.pred_logits[i], outputs.pred_masks[i], meta)
        return data_samples
