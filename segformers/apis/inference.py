"""Inference on images: a :class:`Predictor` (model, test pipeline, dataset metadata), results at the original size."""
from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import Compose, pseudo_collate

from ..registry import DATASETS, TRANSFORMS
from ..structures import SegDataSample

ImageLike = Union[str, Path, np.ndarray, "PIL.Image.Image"]  # noqa: F821


def _as_rgb_array(image: ImageLike) -> tuple[np.ndarray, Optional[str]]:
    """``[H, W, 3]`` uint8 RGB and the file path (if any). Files and PIL images are read as the datasets
    read them (``segformers.data.transforms.loading.read_image``: strict decoding, EXIF orientation)."""
    from ..data.transforms.loading import pil_to_rgb_array, read_image

    if isinstance(image, (str, Path)):
        path = str(image)
        if not Path(path).is_file():
            raise FileNotFoundError(f"inference: image file {path} does not exist.")
        return read_image(path), path
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL image
        return pil_to_rgb_array(image), None
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"inference: expected an RGB image [H, W, 3], got an array of shape {arr.shape}.")
    if arr.dtype != np.uint8:
        raise ValueError(f"inference: expected uint8 pixel values 0-255, got {arr.dtype}; convert the array first.")
    return arr, None


def test_pipeline(cfg: Any) -> Compose:
    """The config's test pipeline without its file-loading steps (images come in memory)."""
    steps = None
    for key in ("test_dataloader", "val_dataloader"):
        if cfg.get(key) and cfg[key].get("dataset", {}).get("pipeline"):
            steps = cfg[key]["dataset"]["pipeline"]
            break
    if steps is None:
        steps = cfg.get("test_pipeline") or [dict(type="PackSegInputs")]
    kept = [dict(s) for s in steps if not str(s["type"]).startswith("Load")]
    import segformers.data  # noqa: F401  (registers the transforms)

    return Compose([TRANSFORMS.build(s) for s in kept])


def dataset_meta(cfg: Any) -> dict:
    """Class names, thing flags and palette as the config states them: the test (or val) dataset's class
    ``METAINFO``, its ``metainfo`` overrides, then the config's top-level ``metainfo``.

    COCO-style datasets read their classes from the annotation file when built; their class ``METAINFO``
    (the COCO classes) is taken only when it has ``model.num_classes`` classes (a toy COCO-layout dataset
    states its own classes in ``metainfo``)."""
    meta: dict = {}
    for key in ("test_dataloader", "val_dataloader"):
        ds = (cfg.get(key) or {}).get("dataset") or {}
        if isinstance(ds.get("type"), str):
            import segformers.data  # noqa: F401

            cls = DATASETS.get(ds["type"])
            default = dict(getattr(cls, "METAINFO", {}) or {})
            num_classes = (cfg.get("model") or {}).get("num_classes")
            if getattr(cls, "CLASSES_FROM_ANN_FILE", False) and len(default.get("classes", ())) != num_classes:
                default = {}
            meta.update(default)
            meta.update(ds.get("metainfo") or {})
            break
    meta.update(cfg.get("metainfo") or {})
    return meta


def _result(sample: SegDataSample) -> dict:
    pred = sample.pred
    out: dict = {}
    if "sem_seg" in pred:  # [K, H, W] scores, or the [H, W] class map a chunked postprocessor gives large images
        sem = pred["sem_seg"]
        out["sem_seg"] = (sem if sem.dim() == 2 else sem.argmax(0)).cpu()
    if "panoptic_seg" in pred:
        out["panoptic_seg"] = pred["panoptic_seg"][0].cpu()
        out["segments_info"] = pred["panoptic_seg"][1]
    if "instances" in pred:
        out["instances"] = {k: v.cpu() for k, v in pred["instances"].items()}
    return out


class Predictor:
    """A model with its test pipeline and dataset metadata: ``Predictor(model, pipeline, meta)(images)``.

    Args:
        model: a segmentor in eval mode (``test_step`` and ``set_dataset_meta``).
        pipeline: turns one record (``img [H, W, 3]`` uint8 RGB, ``img_shape``, ``ori_shape``, ...)
            into the model's input, e.g. :func:`test_pipeline` of a config.
        meta: the dataset metadata (``classes``, ``is_thing``, ``palette``); given to the model's
            ``set_dataset_meta`` here (which checks ``num_classes`` and sets the thing classes).
    """

    def __init__(self, model: torch.nn.Module, pipeline: Callable[[dict], dict], meta: Optional[dict] = None) -> None:
        self.model, self.pipeline, self.meta = model, pipeline, dict(meta or {})
        if self.meta and hasattr(model, "set_dataset_meta"):
            model.set_dataset_meta(self.meta)

    def __call__(self, images: Union[ImageLike, Sequence[ImageLike]], batch_size: int = 1) -> Union[dict, list[dict]]:
        """Results per image, see :func:`inference`."""
        single = not isinstance(images, (list, tuple))
        items = [images] if single else list(images)
        results: list[dict] = []
        for start in range(0, len(items), batch_size):
            data = [self.pipeline(_record(item)) for item in items[start:start + batch_size]]
            with torch.no_grad():
                samples = self.model.test_step(pseudo_collate(data))
            results += [_result(s) for s in samples]
        return results[0] if single else results


def _record(image: ImageLike) -> dict:
    img, path = _as_rgb_array(image)
    h, w = img.shape[:2]
    record = dict(img=img, img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0), flip=False,
                  flip_direction=None)
    if path is not None:
        record["img_path"] = path
    return record


# the pipeline and metadata of every model made by ``init_model`` (weak keys: no model is kept alive)
_MADE_BY_INIT_MODEL: "weakref.WeakKeyDictionary[torch.nn.Module, tuple]" = weakref.WeakKeyDictionary()


def remember_predictor(model: torch.nn.Module, pipeline: Callable[[dict], dict], meta: dict) -> None:
    """Let :func:`inference` and :func:`predictor_of` find ``model``'s pipeline and metadata (``init_model``)."""
    _MADE_BY_INIT_MODEL[model] = (pipeline, dict(meta))


def predictor_of(model: torch.nn.Module) -> Predictor:
    """The :class:`Predictor` of a model made by ``init_model`` (its config's test pipeline and metadata)."""
    if model not in _MADE_BY_INIT_MODEL:
        raise ValueError(
            "inference: this model was not made by segformers.apis.init_model, so its test pipeline is unknown. "
            "Build it with init_model(config, checkpoint) or pass Predictor(model, test_pipeline(cfg), meta)."
        )
    pipeline, meta = _MADE_BY_INIT_MODEL[model]
    return Predictor(model, pipeline, meta)  # init_model applied the metadata: applying it again changes nothing


def inference(model: Union[torch.nn.Module, Predictor], images: Union[ImageLike, Sequence[ImageLike]],
              batch_size: int = 1) -> Union[dict, list[dict]]:
    """Run a :class:`Predictor`, or a model from ``init_model``, on file paths, PIL images or
    ``[H, W, 3]`` uint8 arrays.

    Returns per image a dict with, as the config asks: ``sem_seg`` (``[H, W]`` int64 class map),
    ``panoptic_seg`` (``[H, W]`` int32 ids, 0 = void) + ``segments_info``, ``instances`` (``scores``,
    ``labels``, ``masks [N, H, W]`` bool), all at the original image size. A single image in, a
    single dict out.
    """
    predictor = model if isinstance(model, Predictor) else predictor_of(model)
    return predictor(images, batch_size)
