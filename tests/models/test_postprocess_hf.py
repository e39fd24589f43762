"""HFImageProcessorInference: segformers.processing (= transformers) post-processing in our result format."""
import pytest
import torch

from segformers.models.postprocess import HFImageProcessorInference, crop_low_res
from segformers.processing import postprocess as hf_post
from segformers.registry import POSTPROCESSORS

Q, K, H, W = 8, 5, 24, 32  # low-res logits of a 96 x 128 padded input


def logits(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    cls = 3 * torch.randn(Q, K + 1, generator=g)
    masks = 4 * torch.randn(Q, H, W, generator=g)
    return cls, masks


def as_outputs(cls: torch.Tensor, masks: torch.Tensor) -> dict:
    return {"class_queries_logits": cls[None], "masks_queries_logits": masks[None]}


META = dict(img_shape=(96, 128), ori_shape=(90, 120), batch_input_shape=(96, 128))


def test_registered_and_flags():
    post = POSTPROCESSORS.build(dict(type="HFImageProcessorInference", instance_on=True))
    assert isinstance(post, HFImageProcessorInference)
    with pytest.raises(ValueError, match="at least one"):
        HFImageProcessorInference(semantic_on=False)


def test_semantic_scores_equal_processor_at_original_size():
    cls, masks = logits()
    res = HFImageProcessorInference()(cls, masks, META)
    assert set(res) == {"sem_seg"}
    ref = hf_post.semantic_segmentation(as_outputs(cls, masks), [(90, 120)], return_segmentation_scores=True)[0]
    assert res["sem_seg"].shape == (K, 90, 120)
    assert torch.equal(res["sem_seg"], ref.segmentation_scores)


def test_semantic_equals_transformers_processor():
    transformers = pytest.importorskip("transformers")
    cls, masks = logits(1)
    res = HFImageProcessorInference()(cls, masks, META)
    proc = transformers.MaskFormerImageProcessor(do_resize=False)
    out = transformers.models.maskformer.modeling_maskformer.MaskFormerForInstanceSegmentationOutput(
        class_queries_logits=cls[None], masks_queries_logits=masks[None])
    assert torch.equal(res["sem_seg"].argmax(0), proc.post_process_semantic_segmentation(out, [(90, 120)])[0])


def test_padding_is_cropped_before_resizing():
    cls, masks = logits(2)
    meta = dict(img_shape=(80, 100), ori_shape=(80, 100), batch_input_shape=(96, 128))
    res = HFImageProcessorInference()(cls, masks, meta)
    cropped = masks[:, :20, :25]  # ceil(24 * 80 / 96), ceil(32 * 100 / 128)
    assert torch.equal(crop_low_res(masks, (80, 100), (96, 128)), cropped)
    ref = hf_post.semantic_segmentation(as_outputs(cls, cropped), [(80, 100)], return_segmentation_scores=True)[0]
    assert torch.equal(res["sem_seg"], ref.segmentation_scores)


def test_instances_equal_processor_binary_maps():
    cls, masks = logits(3)
    post = HFImageProcessorInference(semantic_on=False, instance_on=True, threshold=0.2)
    ins = post(cls, masks, META)["instances"]
    ref = hf_post.instance_segmentation(as_outputs(cls, masks), 0.2, [(90, 120)], return_binary_maps=True)[0]
    infos = ref["segments_info"]
    assert len(infos) > 0
    assert ins["masks"].dtype == torch.bool and torch.equal(ins["masks"], ref["segmentation"].bool())
    assert ins["labels"].tolist() == [s["label_id"] for s in infos]
    assert ins["scores"].tolist() == pytest.approx([s["score"] for s in infos], abs=1e-6)
    assert ins["boxes"].shape == (len(infos), 4)
    # query ids point at the queries whose class scores the labels came from
    probs = cls.softmax(-1)[:, :-1]
    assert all(probs[q, lab] > 0 for q, lab in zip(ins["query_ids"].tolist(), ins["labels"].tolist()))
    assert ins["query_ids"].shape == (len(infos),) and int(ins["query_ids"].max()) < Q


def test_no_instances_gives_empty_tensors():
    cls, masks = logits(4)
    ins = HFImageProcessorInference(semantic_on=False, instance_on=True, threshold=1.1)(cls, masks, META)["instances"]
    assert ins["masks"].shape == (0, 90, 120) and ins["scores"].shape == (0,) and ins["query_ids"].shape == (0,)


def test_panoptic_fuses_stuff_from_thing_ids_and_matches_processor():
    cls, masks = logits(5)
    post = HFImageProcessorInference(semantic_on=False, panoptic_on=True, threshold=0.3, thing_ids=[0, 1],
                                      overlap_mask_area_threshold=0.2)
    seg, infos = post(cls, masks, META)["panoptic_seg"]
    ref = hf_post.panoptic_segmentation(as_outputs(cls, masks), 0.3, 0.5, 0.2, {2, 3, 4}, [(90, 120)])[0]
    assert len(infos) > 0 and seg.dtype == torch.int32
    assert torch.equal(seg, ref["segmentation"].to(torch.int32))
    assert infos == [{"id": s["id"], "isthing": s["label_id"] in (0, 1), "category_id": s["label_id"],
                      "score": s["score"]} for s in ref["segments_info"]]


def test_panoptic_thing_ids_from_dataset_meta_and_explicit_fuse():
    cls, masks = logits(6)
    meta = dict(META)
    post = HFImageProcessorInference(semantic_on=False, panoptic_on=True, threshold=0.3)
    assert post._fuse_ids(K, post.thing_ids) is None
    post.thing_ids = [0, 1, 2]  # what MaskFormer.set_dataset_meta sets from the dataset's is_thing
    assert post._fuse_ids(K, post.thing_ids) == [3, 4]
    assert post._fuse_ids(K, None) is None
    explicit = HFImageProcessorInference(semantic_on=False, panoptic_on=True, label_ids_to_fuse=[4])
    assert explicit._fuse_ids(K, [0]) == [4]
    seg, infos = post(cls, masks, meta)["panoptic_seg"]
    ref = hf_post.panoptic_segmentation(as_outputs(cls, masks), 0.3, 0.5, 0.8, {3, 4}, [(90, 120)])[0]
    assert torch.equal(seg, ref["segmentation"].to(torch.int32))


def test_panoptic_nothing_kept_is_void():
    cls, masks = logits(7)
    cls[:, -1] = 100.0  # every query predicts no-object
    seg, infos = HFImageProcessorInference(semantic_on=False, panoptic_on=True)(cls, masks, META)["panoptic_seg"]
    assert infos == [] and seg.dtype == torch.int32 and seg.shape == (90, 120) and int(seg.abs().sum()) == 0
