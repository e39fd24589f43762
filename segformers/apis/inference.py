"""Inference on images: the config's test pipeline, the model, results at the original size."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence, Union

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
    """Class names, thing flags and palette from the config (``metainfo``, else the test dataset's class)."""
    meta: dict = {}
    for key in ("test_dataloader", "val_dataloader"):
        ds = (cfg.get(key) or {}).get("dataset") or {}
        if isinstance(ds.get("type"), str):
            import segformers.data  # noqa: F401

            cls = DATASETS.get(ds["type"])
            meta.update(getattr(cls, "METAINFO", {}) or {})
            meta.update(ds.get("metainfo") or {})
            break
    meta.update(cfg.get("metainfo") or {})
    return meta


def _result(sample: SegDataSample) -> dict:
    pred = sample.pred
    out: dict = {}
    if "sem_seg" in pred:
        out["sem_seg"] = pred["sem_seg"].argmax(0).cpu()
    if "panoptic_seg" in pred:
        out["panoptic_seg"] = pred["panoptic_seg"][0].cpu()
        out["segments_info"] = pred["panoptic_seg"][1]
    if "instances" in pred:
        out["instances"] = {k: v.cpu() for k, v in pred["instances"].items()}
    return out


def inference(model: torch.nn.Module, images: Union[ImageLike, Sequence[ImageLike]],
              batch_size: int = 1) -> Union[dict, list[dict]]:
    """Run ``model`` (from :func:`init_model`) on file paths, PIL images or ``[H, W, 3]`` uint8 arrays.

    Returns per image a dict with, as the config asks: ``sem_seg`` (``[H, W]`` int64 class map),
    ``panoptic_seg`` (``[H, W]`` int32 ids, 0 = void) + ``segments_info``, ``instances`` (``scores``,
    ``labels``, ``masks [N, H, W]`` bool), all at the original image size. A single image in, a
    single dict out.
    """
    single = not isinstance(images, (list, tuple))
    items = [images] if single else list(images)
    cfg = getattr(model, "cfg", None)
    if cfg is None:
        raise ValueError("inference: the model has no .cfg; build it with segformers.apis.init_model(config, ...).")
    pipeline = test_pipeline(cfg)
    if hasattr(model, "set_dataset_meta"):
        model.set_dataset_meta(dataset_meta(cfg))
    results: list[dict] = []
    for start in range(0, len(items), batch_size):
        data = []
        for item in items[start:start + batch_size]:
            img, path = _as_rgb_array(item)
            h, w = img.shape[:2]
            record = dict(img=img, img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0),
                          flip=False, flip_direction=None)
            if path is not None:
                record["img_path"] = path
            data.append(pipeline(record))
        with torch.no_grad():
            samples = model.test_step(pseudo_collate(data))
        results += [_result(s) for s in samples]
    return results[0] if single else results
