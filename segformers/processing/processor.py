"""``MaskFormerImageProcessor`` / ``Mask2FormerImageProcessor``: the Hugging Face-compatible data
pipeline (resize, rescale, normalize, pad, maps -> binary masks) and post-processing."""
from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
from PIL import Image

from . import postprocess
from .config import (
    IGNORED_CONFIG_KEYS,
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    ProcessorOutput,
    check_return_tensors,
    normalize_pad_size,
    normalize_resample,
    normalize_size,
    normalize_stats,
    pop_legacy_kwargs,
)
from .inputs import check_data_format, flatten_inputs, image_to_chw, map_to_2d
from .labels import per_image_id_maps, segmentation_map_to_binary_masks
from .transforms import (
    check_size, pad_images, pad_masks, padded_shape, rescale_and_normalize, resize_image, resize_map,
    resized_shape,
)

PREPROCESSOR_CONFIG = "preprocessor_config.json"  # transformers' file name
IdMaps = Union[None, Mapping[int, int], Sequence[Optional[Mapping[int, int]]]]
_CONFIG_FIELDS = (
    "do_resize", "size", "size_divisor", "resample", "do_rescale", "rescale_factor", "do_normalize",
    "image_mean", "image_std", "ignore_index", "do_reduce_labels", "num_labels", "pad_size",
)


class MaskFormerImageProcessor:
    """Prepares images (and optionally segmentation maps) for MaskFormer / Mask2Former and turns
    raw query outputs into semantic, instance or panoptic results.

    Arguments and defaults follow transformers' processors (``size`` shortest 800 / longest 1333,
    ``size_divisor=32``, bilinear, ``1/255``, ImageNet mean/std, ``ignore_index=None``); the
    differences from transformers 5.23 are listed in ``docs/hf_processor.md``.
    """

    def __init__(
        self,
        do_resize: bool = True,
        size: Union[None, int, Sequence[int], Mapping[str, int]] = None,
        size_divisor: int = 32,
        resample: Union[int, Image.Resampling] = Image.Resampling.BILINEAR,
        do_rescale: bool = True,
        rescale_factor: float = 1 / 255,
        do_normalize: bool = True,
        image_mean: Union[float, Sequence[float]] = IMAGENET_DEFAULT_MEAN,
        image_std: Union[float, Sequence[float]] = IMAGENET_DEFAULT_STD,
        ignore_index: Optional[int] = None,
        do_reduce_labels: bool = False,
        num_labels: Optional[int] = None,
        pad_size: Optional[Mapping[str, int]] = None,
        do_convert_rgb: bool = False,
        max_size: Optional[int] = None,
        **legacy: Any,
    ) -> None:
        legacy = pop_legacy_kwargs(legacy)
        size_divisor = legacy.get("size_divisor", size_divisor)
        do_reduce_labels = legacy.get("do_reduce_labels", do_reduce_labels)
        if int(size_divisor) != size_divisor or size_divisor < 0:
            raise ValueError(
                f"size_divisor must be a non-negative integer (0 = no rounding), got {size_divisor!r}"
            )
        self.do_resize = bool(do_resize)
        self.size = normalize_size(size, max_size)
        self.size_divisor = int(size_divisor)
        self.resample = normalize_resample(resample)
        self.do_rescale = bool(do_rescale)
        self.rescale_factor = float(rescale_factor)
        self.do_normalize = bool(do_normalize)
        self.image_mean = normalize_stats(image_mean, "image_mean")
        self.image_std = normalize_stats(image_std, "image_std")
        self.ignore_index = None if ignore_index is None else int(ignore_index)
        self.do_reduce_labels = bool(do_reduce_labels)
        self.num_labels = None if num_labels is None else int(num_labels)
        self.pad_size = normalize_pad_size(pad_size)
        self.do_convert_rgb = bool(do_convert_rgb)
        if self.do_reduce_labels and self.ignore_index is None:
            raise ValueError(
                "do_reduce_labels=True maps id 0 to ignore_index, so pass ignore_index too (e.g. 255)"
            )

    # ------------------------------------------------------------------ config
    def to_dict(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-ready dict (plus ``image_processor_type``)."""
        out = {name: getattr(self, name) for name in _CONFIG_FIELDS}
        out["image_mean"] = list(self.image_mean) if isinstance(self.image_mean, tuple) else self.image_mean
        out["image_std"] = list(self.image_std) if isinstance(self.image_std, tuple) else self.image_std
        out["do_convert_rgb"] = self.do_convert_rgb
        out["image_processor_type"] = type(self).__name__.removesuffix("Fast")
        return out

    def to_json_string(self) -> str:
        """:meth:`to_dict` as transformers writes it: sorted keys, indent 2, a final newline."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_json_file(self, json_file_path: Union[str, Path]) -> None:
        """Write :meth:`to_json_string` to ``json_file_path``."""
        Path(json_file_path).write_text(self.to_json_string())

    def save_pretrained(self, save_directory: Union[str, Path], push_to_hub: bool = False) -> list[str]:
        """Write ``save_directory/preprocessor_config.json`` (transformers' file name and layout); returns the
        written paths, as transformers does. Nothing is uploaded: ``push_to_hub=True`` raises."""
        if push_to_hub:
            raise ValueError("push_to_hub is not supported: segformers writes local folders only.")
        folder = Path(save_directory)
        if folder.is_file():
            raise ValueError(f"save_pretrained: {folder} is a file; pass a folder.")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / PREPROCESSOR_CONFIG
        self.to_json_file(path)
        return [str(path)]

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Union[str, Path], **overrides: Any) -> "MaskFormerImageProcessor":
        """Build from a local folder holding ``preprocessor_config.json`` (or that file itself), as written by
        transformers' or our ``save_pretrained``; ``overrides`` replace stored values. Nothing is downloaded."""
        path = Path(pretrained_model_name_or_path)
        if path.is_dir():
            path = path / PREPROCESSOR_CONFIG
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: from_pretrained reads a local folder with {PREPROCESSOR_CONFIG} (written by "
                "save_pretrained); hub names are not downloaded."
            )
        return cls.from_json_file(path, **overrides)

    @classmethod
    def from_dict(cls, config: Mapping[str, Any], **overrides: Any) -> "MaskFormerImageProcessor":
        """Build from a dict such as transformers' ``preprocessor_config.json`` (old key names
        ``reduce_labels`` / ``size_divisibility`` / ``max_size`` are understood)."""
        kwargs = {k: v for k, v in dict(config).items() if k not in IGNORED_CONFIG_KEYS}
        kwargs.update(overrides)
        return cls(**kwargs)

    @classmethod
    def from_json_file(cls, path: Union[str, Path], **overrides: Any) -> "MaskFormerImageProcessor":
        """Build from a ``preprocessor_config.json`` file."""
        return cls.from_dict(json.loads(Path(path).read_text()), **overrides)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({json.dumps(self.to_dict(), sort_keys=True)})"

    # ------------------------------------------------------------- preprocess
    def __call__(
        self, images: Any, segmentation_maps: Any = None, instance_id_to_semantic_id: Any = None, **kwargs: Any
    ) -> ProcessorOutput:
        """Same as :meth:`preprocess`."""
        return self.preprocess(images, segmentation_maps, instance_id_to_semantic_id, **kwargs)

    def preprocess(
        self,
        images: Any,
        segmentation_maps: Any = None,
        instance_id_to_semantic_id: IdMaps = None,
        *,
        do_resize: Optional[bool] = None,
        size: Union[None, int, Sequence[int], Mapping[str, int]] = None,
        size_divisor: Optional[int] = None,
        resample: Union[None, int, Image.Resampling] = None,
        do_rescale: Optional[bool] = None,
        rescale_factor: Optional[float] = None,
        do_normalize: Optional[bool] = None,
        image_mean: Union[None, float, Sequence[float]] = None,
        image_std: Union[None, float, Sequence[float]] = None,
        ignore_index: Optional[int] = None,
        do_reduce_labels: Optional[bool] = None,
        pad_size: Optional[Mapping[str, int]] = None,
        do_convert_rgb: Optional[bool] = None,
        input_data_format: Optional[str] = None,
        return_tensors: Optional[str] = "pt",
        **legacy: Any,
    ) -> ProcessorOutput:
        """Resize (aspect kept, then sides rounded up to ``size_divisor``), rescale, normalize and
        pad a batch; with ``segmentation_maps`` also return per image ``mask_labels`` ``[N, H, W]``
        float 0/1 and ``class_labels`` ``[N]`` int64. Arguments left ``None`` take the processor's
        values. ``instance_id_to_semantic_id`` (one dict or one per image) marks the maps as
        instance-id maps."""
        legacy = pop_legacy_kwargs(legacy)
        do_reduce_labels = legacy.get("do_reduce_labels", do_reduce_labels)
        size_divisor = legacy.get("size_divisor", size_divisor)
        fmt = check_data_format(input_data_format)
        rgb = self.do_convert_rgb if do_convert_rgb is None else do_convert_rgb
        pixel_values = [image_to_chw(x, fmt, rgb) for x in flatten_inputs(images, (2, 3), "image")]
        maps = self._maps_for(pixel_values, segmentation_maps, instance_id_to_semantic_id)
        if self.do_resize if do_resize is None else do_resize:
            size = self.size if size is None else normalize_size(size, None)
            divisor = self.size_divisor if size_divisor is None else int(size_divisor)
            filt = self.resample if resample is None else normalize_resample(resample)
            pixel_values, maps = self._resize(pixel_values, maps, size, divisor, filt)
        factor = mean = std = None
        if self.do_rescale if do_rescale is None else do_rescale:
            factor = self.rescale_factor if rescale_factor is None else float(rescale_factor)
        if self.do_normalize if do_normalize is None else do_normalize:
            mean = self.image_mean if image_mean is None else image_mean
            std = self.image_std if image_std is None else image_std
        pixel_values = [rescale_and_normalize(x, factor, mean, std) for x in pixel_values]
        return self._encode(
            pixel_values, maps, instance_id_to_semantic_id, ignore_index, do_reduce_labels, pad_size,
            return_tensors,
        )

    def encode_inputs(
        self,
        pixel_values_list: Any,
        segmentation_maps: Any = None,
        instance_id_to_semantic_id: IdMaps = None,
        ignore_index: Optional[int] = None,
        do_reduce_labels: Optional[bool] = None,
        return_tensors: Optional[str] = "pt",
        input_data_format: Optional[str] = None,
        pad_size: Optional[Mapping[str, int]] = None,
    ) -> ProcessorOutput:
        """Pad already-prepared images (no resize / rescale / normalize) into a batch with its
        ``pixel_mask`` and turn ``segmentation_maps`` (same size as their images) into
        ``mask_labels`` / ``class_labels``, as :meth:`preprocess` does after its transforms."""
        fmt = check_data_format(input_data_format)
        pixel_values = [image_to_chw(x, fmt) for x in flatten_inputs(pixel_values_list, (2, 3), "image")]
        maps = self._maps_for(pixel_values, segmentation_maps, instance_id_to_semantic_id)
        return self._encode(
            pixel_values, maps, instance_id_to_semantic_id, ignore_index, do_reduce_labels, pad_size,
            return_tensors,
        )

    @staticmethod
    def _maps_for(
        pixel_values: list[np.ndarray], segmentation_maps: Any, id_maps: Any
    ) -> Optional[list[np.ndarray]]:
        if not pixel_values:
            raise ValueError("no images were given; pass at least one image")
        if segmentation_maps is None:
            if id_maps is not None:
                raise ValueError(
                    "instance_id_to_semantic_id was given without segmentation_maps; pass the maps too"
                )
            return None
        maps = [map_to_2d(m) for m in flatten_inputs(segmentation_maps, (2,), "segmentation map")]
        if len(maps) != len(pixel_values):
            raise ValueError(
                f"got {len(maps)} segmentation maps for {len(pixel_values)} images; pass one map per image"
            )
        for i, (image, seg) in enumerate(zip(pixel_values, maps)):
            if seg.shape != image.shape[-2:]:
                raise ValueError(
                    f"segmentation map {i} is {seg.shape[0]}x{seg.shape[1]} but its image is "
                    f"{image.shape[-2]}x{image.shape[-1]}; maps must have their image's height and width"
                )
        return maps

    @staticmethod
    def _resize(
        pixel_values: list[np.ndarray],
        maps: Optional[list[np.ndarray]],
        size: Mapping[str, int],
        divisor: int,
        filt: int,
    ) -> tuple[list[np.ndarray], Optional[list[np.ndarray]]]:
        check_size(size)
        shapes = [resized_shape(x.shape[-2], x.shape[-1], size, divisor) for x in pixel_values]
        resized = [resize_image(x, hw, filt) for x, hw in zip(pixel_values, shapes)]
        if maps is not None:
            maps = [resize_map(m, hw) for m, hw in zip(maps, shapes)]
        return resized, maps

    def _encode(
        self,
        pixel_values: list[np.ndarray],
        maps: Optional[list[np.ndarray]],
        id_maps: Any,
        ignore_index: Optional[int],
        do_reduce_labels: Optional[bool],
        pad_size: Optional[Mapping[str, int]],
        return_tensors: Optional[str],
    ) -> ProcessorOutput:
        return_tensors = check_return_tensors(return_tensors)
        pad = self.pad_size if pad_size is None else normalize_pad_size(pad_size)
        out_hw = padded_shape([x.shape[-2:] for x in pixel_values], pad)
        batch, pixel_mask = pad_images(pixel_values, out_hw)
        as_tensor = torch.from_numpy if return_tensors == "pt" else (lambda a: a)
        out = ProcessorOutput(
            pixel_values=as_tensor(batch) if return_tensors else list(batch),
            pixel_mask=as_tensor(pixel_mask) if return_tensors else list(pixel_mask),
        )
        if maps is None:
            return out
        ignore = self.ignore_index if ignore_index is None else int(ignore_index)
        reduce = self.do_reduce_labels if do_reduce_labels is None else bool(do_reduce_labels)
        mask_labels, class_labels = [], []
        for i, (seg, id_map) in enumerate(zip(maps, per_image_id_maps(id_maps, len(maps)))):
            masks, classes = segmentation_map_to_binary_masks(seg, id_map, ignore, reduce, image_index=i)
            mask_labels.append(as_tensor(pad_masks(masks, out_hw)))
            class_labels.append(as_tensor(classes))
        out["mask_labels"], out["class_labels"] = mask_labels, class_labels
        return out

    # ---------------------------------------------------------- post-process
    def post_process_semantic_segmentation(
        self,
        outputs: Any,
        target_sizes: Optional[Sequence[Any]] = None,
        return_segmentation_scores: bool = False,
    ) -> list:
        """Per image an ``[H, W]`` int64 class map at the mask logits' resolution or at
        ``target_sizes`` (or a :class:`SemanticSegmentationResult` with the scores)."""
        return postprocess.semantic_segmentation(outputs, target_sizes, return_segmentation_scores)

    def post_process_instance_segmentation(
        self,
        outputs: Any,
        threshold: float = 0.5,
        mask_threshold: float = 0.5,
        overlap_mask_area_threshold: float = 0.8,
        target_sizes: Optional[Sequence[Any]] = None,
        return_coco_annotation: bool = False,
        return_binary_maps: bool = False,
    ) -> list[dict]:
        """Per image ``{"segmentation", "segments_info"}``: an ``[H, W]`` float map of segment ids
        (-1 = background), or with ``return_binary_maps`` the ``[N, H, W]`` masks, or with
        ``return_coco_annotation`` one COCO RLE dict per segment. ``mask_threshold`` and
        ``overlap_mask_area_threshold`` are accepted for API compatibility and unused (masks are
        binarized at logit 0, as in transformers)."""
        return postprocess.instance_segmentation(
            outputs, threshold, target_sizes, return_coco_annotation, return_binary_maps
        )

    def post_process_panoptic_segmentation(
        self,
        outputs: Any,
        threshold: float = 0.5,
        mask_threshold: float = 0.5,
        overlap_mask_area_threshold: float = 0.8,
        label_ids_to_fuse: Optional[Iterable[int]] = None,
        target_sizes: Optional[Sequence[Any]] = None,
    ) -> list[dict]:
        """Per image ``{"segmentation": [H, W] int32 segment ids, "segments_info": [...]}``; segments
        of a label in ``label_ids_to_fuse`` are merged into one."""
        return postprocess.panoptic_segmentation(
            outputs, threshold, mask_threshold, overlap_mask_area_threshold, label_ids_to_fuse, target_sizes
        )


class Mask2FormerImageProcessor(MaskFormerImageProcessor):
    """The same processor under the Mask2Former name (no behaviour differs between the two)."""


def _deprecated_fast(name: str) -> None:
    warnings.warn(f"`{name}Fast` is deprecated (transformers 5 dropped the `Fast` suffix of image processors); "
                  f"use `{name}`, which it is.", FutureWarning, stacklevel=3)


class MaskFormerImageProcessorFast(MaskFormerImageProcessor):
    """Deprecated alias of :class:`MaskFormerImageProcessor` (transformers 5.23 still accepts the name)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _deprecated_fast("MaskFormerImageProcessor")
        super().__init__(*args, **kwargs)


class Mask2FormerImageProcessorFast(Mask2FormerImageProcessor):
    """Deprecated alias of :class:`Mask2FormerImageProcessor` (transformers 5.23 still accepts the name)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _deprecated_fast("Mask2FormerImageProcessor")
        super().__init__(*args, **kwargs)
