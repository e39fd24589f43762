"""Test-time augmentation: multi-scale + flip, merged the way the official code merges it.

The official Mask2Former / MaskFormer TTA (``SemanticSegmentorWithTTA``, official.md §2.3) is semantic
only: detectron2's ``DatasetMapperTTA`` makes one view per test scale (``TEST.AUG.MIN_SIZES``, long side
<= ``MAX_SIZE``) and its horizontal flip; each view's ``sem_seg`` (softmax x sigmoid class scores
``[K, H, W]``, already resized to the original image) is flipped back and the views are averaged
arithmetically. The published "ms+flip" numbers are mIoU; no official protocol merges panoptic or
instance results, so :class:`SemanticTTAModel` refuses a model that is asked for them.

The views come from the dataset's ``tta_pipeline`` (``TestTimeAug``, one batch per view); the model
predicts each view with its own ``test_step`` (normalization, padding, post-processing unchanged).
"""
from __future__ import annotations

from typing import Optional, Union

from mmengine.model import BaseTTAModel
from torch import Tensor, nn

from ..registry import MODELS
from ..structures import SegDataSample


def unflip(scores: Tensor, sample: SegDataSample) -> Tensor:
    """``[K, H, W]`` scores of a view in the original orientation (undoing ``RandomFlip``'s flip)."""
    if not sample.metainfo.get("flip", False):
        return scores
    direction = sample.metainfo.get("flip_direction", "horizontal")
    return scores.flip(-1 if direction == "horizontal" else -2)


def merge_semantic(views: list[SegDataSample]) -> SegDataSample:
    """One image's views -> one sample whose ``pred["sem_seg"]`` is the mean of their flipped-back
    ``sem_seg`` ``[K, H, W]`` (summed in view order, then divided, as the official code). The
    metadata and ground truth are those of the first unflipped view."""
    if any(v.pred["sem_seg"].dim() != 3 for v in views):
        raise ValueError("TTA views must predict sem_seg as [K, H, W] class scores, not [H, W] class maps: set the "
                         "postprocessor's chunk_elements=0 (SemanticTTAModel does so for the module it wraps).")
    shapes = {tuple(v.pred["sem_seg"].shape) for v in views}
    if len(shapes) != 1:
        raise ValueError(f"TTA views predict sem_seg of different sizes {sorted(shapes)}: every view must be "
                         "resized back to the original image (the dataset's ori_shape).")
    total = None
    for view in views:
        scores = unflip(view.pred["sem_seg"], view)
        total = scores.clone() if total is None else total.add_(scores)
    merged = next((v for v in views if not v.metainfo.get("flip", False)), views[0])
    merged.pred = {"sem_seg": total / len(views)}
    return merged


@MODELS.register_module()
class SemanticTTAModel(BaseTTAModel):
    """Wraps a segmentor for multi-scale + flip semantic inference (mmdetection's ``tta_model`` style).

    Args:
        module: the segmentor (config or built ``MaskFormer``); its postprocessor must produce
            ``sem_seg`` and nothing else.
        data_preprocessor: passed to mmengine's ``BaseTTAModel`` (the module keeps its own).

    ``test_step(data)``: ``data["inputs"]`` / ``data["data_samples"]`` hold one batch per view (what
    ``TestTimeAug`` + ``pseudo_collate`` give); returns one merged sample per image.
    """

    def __init__(self, module: Union[dict, nn.Module], data_preprocessor: Optional[dict] = None) -> None:
        if isinstance(module, dict):
            module = MODELS.build(module)
        post = getattr(module, "postprocessor", None)
        if post is not None and (getattr(post, "panoptic_on", False) or getattr(post, "instance_on", False)
                                 or not getattr(post, "semantic_on", True)):
            raise ValueError(
                "SemanticTTAModel merges semantic scores only (the official TTA; no official protocol merges "
                "panoptic or instance results): test with model.postprocessor.semantic_on=True, panoptic_on=False, "
                "instance_on=False, or without --tta."
            )
        if getattr(post, "chunk_elements", 0):
            # per-class scores are what the views average: a chunked postprocessor would give class maps
            post.chunk_elements = 0
        super().__init__(module=module, data_preprocessor=data_preprocessor)

    def merge_preds(self, data_samples_list: list[list[SegDataSample]]) -> list[SegDataSample]:
        """Per image (outer list) its views (inner list) -> one sample (:func:`merge_semantic`)."""
        return [merge_semantic(list(views)) for views in data_samples_list]

    def set_dataset_meta(self, meta: dict) -> None:
        """Hand the dataset metadata to the wrapped segmentor (``DatasetMetaHook``)."""
        if hasattr(self.module, "set_dataset_meta"):
            self.module.set_dataset_meta(meta)
