"""Segmentation maps -> one binary mask and one class id per segment (the MaskFormer targets)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Optional, Union

import numpy as np

IdMap = Mapping[int, int]


def _map_ids(ids: np.ndarray, mapping: IdMap, image_index: Optional[int]) -> np.ndarray:
    missing = [int(i) for i in ids if int(i) not in mapping]
    if missing:
        where = "" if image_index is None else f" of segmentation map {image_index}"
        raise KeyError(
            f"instance ids {missing}{where} are missing from instance_id_to_semantic_id; "
            "add them to the mapping (or mark them with ignore_index in the map)"
        )
    return np.array([mapping[int(i)] for i in ids], dtype=np.int64).reshape(-1)


def _present_ids(seg: np.ndarray) -> np.ndarray:
    """Sorted distinct values of ``seg`` (a histogram when the ids are small, else ``np.unique``)."""
    if seg.size == 0:
        return np.zeros(0, dtype=np.int64)
    low, high = int(seg.min()), int(seg.max())
    if low >= 0 and high < max(4 * seg.size, 1 << 16):
        return np.flatnonzero(np.bincount(seg.ravel(), minlength=high + 1)).astype(np.int64)
    return np.unique(seg)


def segmentation_map_to_binary_masks(
    segmentation_map: np.ndarray,
    instance_id_to_semantic_id: Optional[IdMap] = None,
    ignore_index: Optional[int] = None,
    do_reduce_labels: bool = False,
    image_index: Optional[int] = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split an ``[H, W]`` id map into ``([N, H, W] bool masks, [N] int64 class ids)``, one per id
    present (sorted), skipping ``ignore_index``.

    Without ``instance_id_to_semantic_id`` the ids are class ids; with it they are instance ids
    looked up in the mapping. ``do_reduce_labels`` turns id 0 into ``ignore_index`` and shifts the
    other ids down by one (the mapping is then read with the original ids, and its classes are
    shifted down by one too).
    """
    if do_reduce_labels and ignore_index is None:
        raise ValueError(
            "do_reduce_labels=True maps id 0 to ignore_index, so ignore_index must be set (e.g. 255)"
        )
    seg = np.asarray(segmentation_map, dtype=np.int64)
    if seg.ndim != 2:
        raise ValueError(f"segmentation map must be [H, W], got shape {seg.shape}")
    if do_reduce_labels:
        seg = np.where(seg == 0, np.int64(ignore_index), seg - 1)
    ids = _present_ids(seg)
    if ignore_index is not None:
        ids = ids[ids != ignore_index]
    where = "segmentation map" if image_index is None else f"segmentation_maps[{image_index}]"
    if instance_id_to_semantic_id is None:
        _check_class_ids(ids, where, ignore_index)
        return seg[None, :, :] == ids[:, None, None], ids.astype(np.int64)
    lookup = ids + 1 if do_reduce_labels else ids
    classes = _map_ids(lookup, instance_id_to_semantic_id, image_index)
    # a class 0 reduced to -1 is handed on as transformers does (its preprocessing parity is tested)
    return seg[None, :, :] == ids[:, None, None], classes - 1 if do_reduce_labels else classes


def _check_class_ids(classes: np.ndarray, where: str, ignore_index: Optional[int]) -> None:
    """Class ids handed on to the loss must be >= 0 (a negative id would index the classifier from its end)."""
    negative = np.unique(classes[classes < 0])
    if negative.size:
        raise ValueError(
            f"{where} gives negative class ids {negative[:10].tolist()} (ignore_index={ignore_index}); class ids "
            "must be >= 0: pass the value that marks unlabelled pixels as ignore_index (e.g. ignore_index=-1)"
        )


def per_image_id_maps(
    instance_id_to_semantic_id: Union[None, IdMap, Sequence[Optional[IdMap]]], num_images: int
) -> list[Optional[IdMap]]:
    """Expand ``None``, one global mapping or a per-image list into one entry per image."""
    if instance_id_to_semantic_id is None or isinstance(instance_id_to_semantic_id, Mapping):
        return [instance_id_to_semantic_id] * num_images
    if isinstance(instance_id_to_semantic_id, (list, tuple)):
        if len(instance_id_to_semantic_id) != num_images:
            raise ValueError(
                f"instance_id_to_semantic_id has {len(instance_id_to_semantic_id)} mappings for "
                f"{num_images} segmentation maps; pass one dict per map or a single global dict"
            )
        for i, m in enumerate(instance_id_to_semantic_id):
            if m is not None and not isinstance(m, Mapping):
                raise TypeError(
                    f"instance_id_to_semantic_id[{i}] must be a dict or None, got {type(m).__name__}"
                )
        return list(instance_id_to_semantic_id)
    raise TypeError(
        "instance_id_to_semantic_id must be None, a dict {instance_id: class_id} or a list of such dicts, "
        f"got {type(instance_id_to_semantic_id).__name__}"
    )
