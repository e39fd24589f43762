"""Reading images and annotations of a record into the results dict (see :mod:`.base`)."""
from __future__ import annotations

import logging
import os.path as osp
from typing import Optional

import numpy as np
import pycocotools.mask as mask_util
from mmengine.logging import print_log
from PIL import Image, ImageOps

from segformers.registry import TRANSFORMS

from .base import BaseTransform


def _listed_in(results: dict) -> str:
    ann_file = results.get("ann_file")
    return f" (listed in {ann_file})" if ann_file else ""


def pil_to_rgb_array(image: Image.Image) -> np.ndarray:
    """A PIL image as uint8 RGB ``[H, W, 3]`` shown upright: EXIF orientation applied (as detectron2's
    ``read_image`` and OpenCV's ``imread`` do), gray / palette / CMYK converted, alpha dropped, 16-bit
    values scaled to 8 bits (as OpenCV's ``IMREAD_COLOR``)."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        gray = np.clip(np.asarray(image).astype(np.int64) >> 8, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode == "F":
        raise ValueError("a floating-point (mode F) image has no 8-bit colours; convert it to 8-bit RGB first")
    return np.asarray(image.convert("RGB"))


def read_image(path: str, listed_in: str = "") -> np.ndarray:
    """Read an image file as uint8 RGB ``[H, W, 3]`` (:func:`pil_to_rgb_array`). Decoding is strict: a
    truncated or corrupt file raises ``ValueError`` naming it (never grey rows and a libjpeg warning)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f"image file {path} does not exist{listed_in}")
    try:
        with Image.open(path) as im:
            im.load()  # decodes every byte: raises on a truncated file
            return pil_to_rgb_array(im)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"cannot decode image file {path}{listed_in}: {err} (corrupt, truncated or not an "
                         "image)") from err


def read_png(path: str, what: str, listed_in: str = "") -> np.ndarray:
    """Decode an annotation PNG with PIL; errors name the file and the problem."""
    if not osp.isfile(path):
        raise FileNotFoundError(f"{what} {path} does not exist{listed_in}")
    try:
        with Image.open(path) as im:
            im.load()
            return np.array(im)
    except Exception as err:  # PIL raises several types for broken files
        raise ValueError(f"cannot decode {what} {path}{listed_in}: {err}") from err


def read_label_map(path: str, listed_in: str = "") -> np.ndarray:
    """A single-channel label PNG (modes L / P / I;16 / I) as int32 ``[H, W]``."""
    arr = read_png(path, "label map", listed_in)
    if arr.ndim != 2:
        raise ValueError(
            f"label map {path} has shape {arr.shape}: expected a single-channel PNG of class ids, "
            "not a colour-coded image (convert colours to ids first)"
        )
    return arr.astype(np.int32)


def rgb2id(color: np.ndarray) -> np.ndarray:
    """COCO panoptic colour -> segment id: ``R + 256 G + 256^2 B``; ``[H, W, 3]`` -> int32 ``[H, W]``."""
    color = color.astype(np.int32)
    return color[..., 0] + 256 * color[..., 1] + 256 * 256 * color[..., 2]


def id2rgb(ids: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb2id`: int ``[H, W]`` -> uint8 ``[H, W, 3]``."""
    ids = ids.astype(np.int64)
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)


def apply_label_policy(raw: np.ndarray, results: dict, path: str) -> np.ndarray:
    """Raw PNG values -> class ids in ``[0, K)`` or ``ignore_index``, validated.

    ``reduce_zero_label`` maps 0 -> ignore and v -> v - 1 (values already equal to ``ignore_index``
    stay ignored); then ``label_map`` (raw value -> id; unlisted values unchanged) is applied.
    """
    ignore = int(results.get("ignore_index", 255))
    out = raw.astype(np.int32)
    if results.get("reduce_zero_label", False):
        out = np.where(out == ignore, ignore, np.where(out == 0, ignore, out - 1))
    label_map = results.get("label_map")
    if label_map:
        hi = max(int(out.max(initial=0)), max(int(k) for k in label_map)) + 1
        lut = np.arange(hi, dtype=np.int32)
        for src, dst in label_map.items():
            lut[int(src)] = int(dst)
        out = lut[np.clip(out, 0, hi - 1)]
    num_classes = results.get("num_classes")
    if num_classes is not None:
        valid = ((out >= 0) & (out < num_classes)) | (out == ignore)
        if not valid.all():
            bad = np.unique(out[~valid])[:10].tolist()
            hint = ""
            if not results.get("reduce_zero_label") and int(out[~valid].max()) == num_classes:
                hint = " (0 may mean 'unlabelled': try reduce_zero_label=True)"
            raise ValueError(
                f"label map {path}{_listed_in(results)} has class ids {bad} outside [0, {num_classes}) "
                f"that are not ignore_index={ignore}{hint}"
            )
    return out


@TRANSFORMS.register_module()
class LoadImageFromFile(BaseTransform):
    """Read ``results['img_path']`` into ``img`` (uint8 RGB ``[H, W, 3]``, :func:`read_image`) and set the
    shape keys.

    Args:
        skip_bad_images: a file that cannot be decoded is logged (with the count of files skipped so far
            by this process) and its sample dropped (``None``: a training dataset then draws another one,
            as mmengine's ``BaseDataset`` does); by default it raises naming the file. ``tools/train.py
            --skip-bad-images`` sets it.
    """

    def __init__(self, *, skip_bad_images: bool = False) -> None:
        self.skip_bad_images = skip_bad_images
        self._skipped: list[str] = []

    @property
    def skipped(self) -> list[str]:
        """The files this instance skipped (with ``skip_bad_images``), in order."""
        return list(self._skipped)

    def transform(self, results: dict) -> Optional[dict]:
        path = results["img_path"]
        try:
            img = read_image(path, _listed_in(results))
        except ValueError as err:
            if not self.skip_bad_images:
                raise
            self._skipped.append(path)
            print_log(f"Skipped a bad image ({len(self._skipped)} skipped so far in this process): {err}",
                      logger="current", level=logging.WARNING)
            return None
        h, w = img.shape[:2]
        expected = (results.get("height"), results.get("width"))
        if None not in expected and expected != (h, w):
            raise ValueError(
                f"image file {path} is {h}x{w} but its annotation{_listed_in(results)} says "
                f"{expected[0]}x{expected[1]}"
            )
        results.update(img=img, img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0))
        results.setdefault("flip", False)
        results.setdefault("flip_direction", None)
        return results


@TRANSFORMS.register_module()
class LoadSegAnnotations(BaseTransform):
    """Read a record's annotations into maps / masks at the original image size.

    * ``seg_map_path`` -> ``gt_sem_seg`` (label policy of :func:`apply_label_policy`);
    * ``pan_seg_path`` + ``segments_info`` -> ``gt_pan_seg`` (int32 segment ids, ``rgb2id`` of the
      RGB PNG, 0 = void; an id that ``segments_info`` does not list is an error) and, if
      ``with_sem_seg``, ``gt_sem_seg`` (every listed segment, crowd included, gets its class; void
      gets ``ignore_index``). With ``instance_label_map`` (Cityscapes) the PNG holds
      ``instanceIds`` and ``segments_info`` is derived from them
      (:func:`segments_from_instance_ids`); other values become void;
    * ``instances`` -> ``gt_masks`` bool ``[N, H, W]``, ``gt_labels``, ``gt_seg_ids`` for the
      non-crowd instances (polygons or RLE decoded by pycocotools).

    Args:
        with_sem_seg: derive ``gt_sem_seg`` from panoptic annotations.
        with_panoptic: keep ``gt_pan_seg`` (set False to train panoptic data as semantic).
    """

    def __init__(self, with_sem_seg: bool = True, with_panoptic: bool = True) -> None:
        self.with_sem_seg = with_sem_seg
        self.with_panoptic = with_panoptic

    def transform(self, results: dict) -> dict:
        if "seg_map_path" in results:
            self._load_semantic(results)
        if "pan_seg_path" in results:
            self._load_panoptic(results)
        if "instances" in results:
            self._load_instances(results)
        return results

    @staticmethod
    def _check_shape(arr: np.ndarray, results: dict, path: str) -> None:
        shape = results.get("ori_shape") or (results.get("height"), results.get("width"))
        if None not in shape and tuple(arr.shape[:2]) != tuple(shape):
            raise ValueError(
                f"annotation {path} is {arr.shape[0]}x{arr.shape[1]} but image "
                f"{results.get('img_path')} is {shape[0]}x{shape[1]}"
            )

    def _load_semantic(self, results: dict) -> None:
        path = results["seg_map_path"]
        raw = read_label_map(path, _listed_in(results))
        self._check_shape(raw, results, path)
        results["gt_sem_seg"] = apply_label_policy(raw, results, path)

    def _load_panoptic(self, results: dict) -> None:
        path = results["pan_seg_path"]
        arr = read_png(path, "panoptic PNG", _listed_in(results))
        self._check_shape(arr, results, path)
        if arr.ndim == 3 and arr.shape[2] in (3, 4):
            pan = rgb2id(arr[..., :3])
        elif arr.ndim == 2:  # Cityscapes instanceIds: the id is the pixel value
            pan = arr.astype(np.int32)
        else:
            raise ValueError(f"panoptic PNG {path} has shape {arr.shape}: expected RGB")
        present = np.unique(pan)
        inverse = np.searchsorted(present, pan)  # as np.unique's return_inverse, 4x faster on a panoptic map
        if "instance_label_map" in results:  # Cityscapes: segments come from the ids themselves
            results["segments_info"] = segments_from_instance_ids(present, results["instance_label_map"])
        segments = results.get("segments_info", [])
        seg_ids = np.array([s["id"] for s in segments], dtype=np.int64)
        listed = np.isin(present, seg_ids)
        if "instance_label_map" in results:
            pan = np.where(listed[inverse.reshape(pan.shape)], pan, 0).astype(np.int32)
        elif not listed[present != 0].all():
            bad = present[(present != 0) & ~listed][:10].tolist()
            raise ValueError(
                f"panoptic PNG {path} has segment ids {bad} that segments_info"
                f"{_listed_in(results)} does not list"
            )
        if self.with_panoptic:
            results["gt_pan_seg"] = pan.astype(np.int32)
        if self.with_sem_seg:
            ignore = int(results.get("ignore_index", 255))
            labels = {int(s["id"]): int(s["label"]) for s in segments}
            lut = np.array([labels.get(int(i), ignore) for i in present], dtype=np.int32)
            results["gt_sem_seg"] = lut[inverse.reshape(pan.shape)]
        if not self.with_panoptic:
            results.pop("segments_info", None)

    def _load_instances(self, results: dict) -> None:
        h, w = results.get("ori_shape") or (results["height"], results["width"])
        kept = [inst for inst in results["instances"] if not inst["iscrowd"]]
        masks = np.zeros((len(kept), h, w), dtype=bool)
        for i, inst in enumerate(kept):
            masks[i] = decode_segmentation(inst["segmentation"], h, w, results, inst.get("id"))
        results["gt_masks"] = masks
        results["gt_labels"] = np.array([inst["label"] for inst in kept], dtype=np.int64)
        ids = [inst.get("id", i + 1) for i, inst in enumerate(kept)]
        results["gt_seg_ids"] = np.array(ids, dtype=np.int64)


def segments_from_instance_ids(ids: np.ndarray, label_map: dict) -> list[dict]:
    """Cityscapes ``instanceIds`` values -> ``segments_info`` of the thing classes in ``label_map``.

    ``v >= 1000`` is instance ``v % 1000`` of label id ``v // 1000``; a thing label id below 1000 is a
    crowd region ("group"); every other value (stuff, void) is not a segment.
    """
    label_map = {int(k): int(v) for k, v in label_map.items()}
    segments = []
    for v in ids.tolist():
        cat = v // 1000 if v >= 1000 else v
        if cat in label_map:
            segments.append(
                dict(id=v, category_id=cat, label=label_map[cat], iscrowd=int(v < 1000), isthing=True)
            )
    return segments


def decode_segmentation(segm, h: int, w: int, results: dict, ann_id: Optional[int] = None) -> np.ndarray:
    """COCO ``segmentation`` (polygon list, uncompressed or compressed RLE) -> bool ``[h, w]``."""
    where = f"annotation {ann_id} of {results.get('img_path')}{_listed_in(results)}"
    if isinstance(segm, list):
        polys = [p for p in segm if len(p) >= 6 and len(p) % 2 == 0]
        if not polys:
            return np.zeros((h, w), dtype=bool)
        rle = mask_util.merge(mask_util.frPyObjects(polys, h, w))
    elif isinstance(segm, dict) and "counts" in segm:
        if list(segm.get("size", [h, w])) != [h, w]:
            raise ValueError(f"{where}: RLE size {segm.get('size')} differs from the image {h}x{w}")
        if isinstance(segm["counts"], list):
            rle = mask_util.frPyObjects(segm, h, w)
        else:
            counts = segm["counts"]
            rle = dict(size=[h, w], counts=counts.encode() if isinstance(counts, str) else counts)
    else:
        raise ValueError(
            f"{where}: segmentation must be a polygon list or an RLE dict, got {type(segm).__name__}"
        )
    return mask_util.decode(rle).astype(bool)
