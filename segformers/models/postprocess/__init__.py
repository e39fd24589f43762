"""Post-processing in one place: the kernels (one copy each), the official inference and the
transformers-compatible inference, both registered in ``POSTPROCESSORS``.

* :mod:`.kernels` — semantic scores, top-k (query, class) scoring, mask scores, pixel winner + area
  ratio, segment ids with a fuse set;
* :mod:`.official` — :class:`MaskFormerInference` (the official MaskFormer / Mask2Former inference);
* :mod:`.hf` — :class:`HFImageProcessorInference` and the per-image steps that
  :mod:`segformers.processing.postprocess` (the Hugging Face batch API) runs;
* :mod:`.banded` — :class:`BandedResize`, bilinear resizing a band of output rows at a time, bit-equal to
  ``F.interpolate``; :mod:`.chunked` — the official results of a large image computed band by band
  (``MaskFormerInference(chunk_elements=...)``).
"""
from .banded import BandedResize
from .hf import HFImageProcessorInference, crop_low_res
from .official import (
    MaskFormerInference, instance_inference, matrix_nms_decay, panoptic_inference, resize_to_original,
    semantic_inference,
)

__all__ = [
    "BandedResize", "HFImageProcessorInference", "MaskFormerInference", "crop_low_res", "instance_inference",
    "matrix_nms_decay", "panoptic_inference", "resize_to_original", "semantic_inference",
]
