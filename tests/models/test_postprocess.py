"""Post-processing equals a literal (loop) transcription of the official Mask2Former / MaskFormer code."""
import math

import pytest
import torch
import torch.nn.functional as F

from segformers.models.postprocess import (
    MaskFormerInference, instance_inference, panoptic_inference, resize_to_original, semantic_inference,
)


def official_panoptic(mask_cls, mask_pred, thing_ids, obj_thr, overlap_thr, m2f=True):
    """Line-by-line the official panoptic_inference (query loop, .item())."""
    num_classes = mask_cls.shape[-1] - 1
    scores, labels = F.softmax(mask_cls, dim=-1).max(-1)
    mask_pred = mask_pred.sigmoid()
    keep = labels.ne(num_classes) & (scores > obj_thr)
    cur_scores, cur_classes, cur_masks = scores[keep], labels[keep], mask_pred[keep]
    cur_prob_masks = cur_scores.view(-1, 1, 1) * cur_masks
    h, w = cur_masks.shape[-2:]
    panoptic_seg = torch.zeros((h, w), dtype=torch.int32)
    segments_info = []
    current_segment_id = 0
    if cur_masks.shape[0] == 0:
        return panoptic_seg, segments_info
    cur_mask_ids = cur_prob_masks.argmax(0)
    stuff_memory_list = {}
    for k in range(cur_classes.shape[0]):
        pred_class = cur_classes[k].item()
        isthing = pred_class in thing_ids
        mask_area = (cur_mask_ids == k).sum().item()
        original_area = (cur_masks[k] >= 0.5).sum().item()
        mask = (cur_mask_ids == k) & (cur_masks[k] >= 0.5) if m2f else (cur_mask_ids == k)
        if mask_area > 0 and original_area > 0 and mask.sum().item() > 0:
            if mask_area / original_area < overlap_thr:
                continue
            if not isthing:
                if int(pred_class) in stuff_memory_list:
                    panoptic_seg[mask] = stuff_memory_list[int(pred_class)]
                    continue
                stuff_memory_list[int(pred_class)] = current_segment_id + 1
            current_segment_id += 1
            panoptic_seg[mask] = current_segment_id
            segments_info.append({"id": current_segment_id, "isthing": bool(isthing), "category_id": int(pred_class)})
    return panoptic_seg, segments_info


def _inputs(seed, q=12, k=5, h=24, w=20):
    g = torch.Generator().manual_seed(seed)
    cls = torch.randn(q, k + 1, generator=g) * 3
    masks = torch.randn(q, h, w, generator=g) * 4
    return cls, masks


@pytest.mark.parametrize("m2f", [True, False])
def test_panoptic_equals_official_loop(m2f):
    total = 0
    for seed in range(8):
        cls, masks = _inputs(seed)
        things = [0, 1]
        ref, ref_info = official_panoptic(cls, masks, things, 0.3, 0.5, m2f)
        out, info = panoptic_inference(cls, masks, thing_ids=things, object_mask_threshold=0.3,
                                       overlap_threshold=0.5, intersect_with_mask=m2f)
        assert torch.equal(out, ref)
        assert info == ref_info
        total += len(info)
    assert total > 8  # the random inputs do produce segments, stuff merges included


def test_panoptic_stuff_merging_and_nothing_kept():
    # two queries of the same stuff class 3 on disjoint halves -> one segment id
    cls = torch.full((2, 5), -10.0)
    cls[:, 3] = 10.0
    masks = torch.full((2, 4, 4), -10.0)
    masks[0, :, :2] = 10.0
    masks[1, :, 2:] = 10.0
    seg, info = panoptic_inference(cls, masks, thing_ids=[0], object_mask_threshold=0.8, overlap_threshold=0.8)
    assert info == [{"id": 1, "isthing": False, "category_id": 3}]
    assert torch.equal(seg, torch.ones(4, 4, dtype=torch.int32))
    seg, info = panoptic_inference(cls, masks, thing_ids=[0], object_mask_threshold=1.0, overlap_threshold=0.8)
    assert info == [] and int(seg.abs().sum()) == 0


def official_instance(mask_cls, mask_pred, topk, thing_ids=None):
    num_queries, num_classes = mask_cls.shape[0], mask_cls.shape[-1] - 1
    scores = F.softmax(mask_cls, dim=-1)[:, :-1]
    labels = torch.arange(num_classes).unsqueeze(0).repeat(num_queries, 1).flatten(0, 1)
    scores_per_image, topk_indices = scores.flatten(0, 1).topk(topk, sorted=False)
    labels_per_image = labels[topk_indices]
    topk_indices = topk_indices // num_classes
    mask_pred = mask_pred[topk_indices]
    if thing_ids is not None:
        keep = torch.zeros_like(scores_per_image).bool()
        for i, lab in enumerate(labels_per_image):
            keep[i] = lab.item() in thing_ids
        scores_per_image, labels_per_image, mask_pred = scores_per_image[keep], labels_per_image[keep], mask_pred[keep]
    pred_masks = (mask_pred > 0).float()
    mask_scores = (mask_pred.sigmoid().flatten(1) * pred_masks.flatten(1)).sum(1) / (pred_masks.flatten(1).sum(1) + 1e-6)
    return scores_per_image * mask_scores, labels_per_image, pred_masks.bool()


@pytest.mark.parametrize("things", [None, [0, 2]])
def test_instance_equals_official(things):
    cls, masks = _inputs(3)
    s, l, m = official_instance(cls, masks, 20, things)
    out = instance_inference(cls, masks, topk=20, thing_ids=things)
    assert torch.allclose(out["scores"], s) and torch.equal(out["labels"], l) and torch.equal(out["masks"], m)
    assert out["boxes"].shape == (len(s), 4)
    with pytest.raises(ValueError, match="top-1000"):
        instance_inference(cls, masks, topk=1000)


def test_semantic_and_resize():
    cls, masks = _inputs(1)
    sem = semantic_inference(cls, masks)
    ref = torch.einsum("qc,qhw->chw", F.softmax(cls, -1)[:, :-1], masks.sigmoid())
    assert torch.allclose(sem, ref)
    out = resize_to_original(sem, (20, 16), (40, 32))
    assert out.shape == (5, 40, 32)
    assert torch.allclose(out, F.interpolate(sem[None, :, :20, :16], (40, 32), mode="bilinear", align_corners=False)[0])


def test_inference_wrapper_semantic_crop_and_thing_error():
    cls, masks = _inputs(2)
    post = MaskFormerInference(semantic_on=True)
    res = post(cls, masks, {"img_shape": (20, 18), "ori_shape": (10, 9)})
    assert res["sem_seg"].shape == (5, 10, 9)
    pan = MaskFormerInference(semantic_on=False, panoptic_on=True)
    with pytest.raises(ValueError, match="thing_ids"):
        pan(cls, masks, {"img_shape": (24, 20)})
    pan.thing_ids = [0]  # what MaskFormer.set_dataset_meta sets from the dataset's is_thing
    res = pan(cls, masks, {"img_shape": (24, 20)})
    assert res["panoptic_seg"][0].shape == (24, 20)


def test_inference_wrapper_resizes_low_res_masks_to_the_padded_input():
    cls, low = _inputs(3)  # masks [Q, 24, 20] stand for low-resolution decoder logits
    pad = (48, 40)
    meta = {"img_shape": (44, 36), "ori_shape": (22, 18), "batch_input_shape": pad}
    up = F.interpolate(low[None], size=pad, mode="bilinear", align_corners=False)[0]
    post = MaskFormerInference(semantic_on=True, panoptic_on=True, instance_on=True, topk_per_image=10,
                               thing_ids=[0, 1])
    got, ref = post(cls, low, meta), post(cls, up, meta)
    assert got["sem_seg"].shape == (5, 22, 18)
    assert torch.equal(got["sem_seg"], ref["sem_seg"])
    assert torch.equal(got["panoptic_seg"][0], ref["panoptic_seg"][0])
    assert torch.equal(got["instances"]["masks"], ref["instances"]["masks"])
    # no batch_input_shape: the masks are taken as given (already at the padded size)
    assert post(cls, low, {"img_shape": (24, 20)})["sem_seg"].shape == (5, 24, 20)


def test_matrix_nms_decays_same_class_duplicates_only():
    """Hand-computed Gaussian matrix NMS (sigma 2): B tops class 0; A and D each overlap B by IoU 1/3
    and are decayed by exp(-2 / 9); C has A's pixels but another class and keeps its score."""
    from segformers.models.postprocess import matrix_nms_decay

    masks = torch.zeros(4, 4, 8, dtype=torch.bool)
    masks[0, :, 0:4] = True  # A: 16 px
    masks[1, :, 2:6] = True  # B: IoU(A, B) = 8 / 24
    masks[2, :, 0:4] = True  # C: same pixels as A, class 1
    masks[3, :, 4:8] = True  # D: IoU(B, D) = 8 / 24, IoU(A, D) = 0
    labels = torch.tensor([0, 0, 1, 0])
    scores = torch.tensor([0.7, 0.9, 0.8, 0.6])  # B is the top instance of class 0
    third = 8 / 24
    decay = matrix_nms_decay(masks, labels, scores, sigma=2.0)
    expected_a = math.exp(-2 * third**2)  # below B (no compensation: B tops its class)
    expected_d = math.exp(-2 * third**2)  # below B by IoU 1/3; A (above it, IoU 0, comp 1/3) gives exp(+..) > 1
    torch.testing.assert_close(decay, torch.tensor([expected_a, 1.0, 1.0, expected_d]))


def test_instance_matrix_nms_option():
    cls, masks = _inputs(3)
    plain = instance_inference(cls, masks, topk=20)
    nms = instance_inference(cls, masks, topk=20, matrix_nms_sigma=2.0)
    assert torch.equal(plain["labels"], nms["labels"]) and torch.equal(plain["masks"], nms["masks"])
    assert (nms["scores"] <= plain["scores"]).all() and (nms["scores"] < plain["scores"]).any()
    assert torch.isclose(nms["scores"].max(), plain["scores"].max())  # the top instance is never decayed
    with pytest.raises(ValueError, match="instance_matrix_nms_sigma"):
        MaskFormerInference(instance_on=True, instance_matrix_nms_sigma=0.0)


def test_instance_matrix_nms_with_no_thing_candidate():
    """Every top-k pair of a stuff class: no instance is left, and matrix NMS has nothing to decay."""
    cls, masks = _inputs(3)
    out = instance_inference(cls, masks, topk=5, thing_ids=[], matrix_nms_sigma=2.0)
    assert out["scores"].shape == (0,) and out["masks"].shape[0] == 0 and out["labels"].shape == (0,)
