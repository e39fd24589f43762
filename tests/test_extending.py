"""The recipes of ``docs/extending.md`` that have no project of their own: a match cost over whole 2-D
masks, a mask loss and a dataset, each written and registered outside ``segformers/`` as a plugin would be."""
from __future__ import annotations

import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor

from segformers.data.datasets.base import BaseSegDataset
from segformers.models.losses import MaskLoss
from segformers.registry import CRITERIA, DATASETS, LOSSES, MATCH_COSTS, MATCHERS
from segformers.structures import DecoderOutput, MatchCost, MatchInputs, Targets
from segformers.testing import check_contract


class CentroidCost(MatchCost):
    """Distance between the centres of mass of a predicted mask (sigmoid, decoder resolution) and a target
    mask (full resolution), in image-relative coordinates: a cost that needs whole 2-D masks."""

    def cost(self, inputs: MatchInputs) -> Tensor:
        pred = inputs.mask_logits.sigmoid()  # [Q, h, w]
        target = inputs.target_masks.float()  # [N, H, W]
        return torch.cdist(centroids(pred), centroids(target))


def centroids(masks: Tensor) -> Tensor:
    """``[M, H, W]`` non-negative masks -> ``[M, 2]`` centres of mass ``(y, x)`` in ``[0, 1]``."""
    h, w = masks.shape[-2:]
    ys = (torch.arange(h, dtype=masks.dtype) + 0.5) / h
    xs = (torch.arange(w, dtype=masks.dtype) + 0.5) / w
    mass = masks.sum((1, 2)).clamp(min=1e-6)
    return torch.stack([(masks.sum(2) * ys).sum(1) / mass, (masks.sum(1) * xs).sum(1) / mass], -1)


class MaskL1Loss(MaskLoss):
    """Mean ``|sigmoid(x) - t|`` over the points of each matched pair."""

    def __init__(self, *, loss_weight: float = 1.0, name: str = "l1") -> None:
        super().__init__(loss_weight=loss_weight, name=name)

    def per_mask(self, logits: Tensor, labels: Tensor) -> Tensor:
        return (logits.sigmoid() - labels).abs().mean(1)


class ListFileDataset(BaseSegDataset):
    """Semantic segmentation listed in a text file: one ``<image> <label map>`` pair per line."""

    METAINFO = dict(classes=("background", "blob"), palette=[[0, 0, 0], [255, 0, 0]])

    def load_data_list(self) -> list[dict]:
        with open(self.ann_file) as f:
            pairs = [line.split() for line in f if line.strip()]
        root = self.data_root or ""
        return [dict(self._base_record(osp.join(root, img)), seg_map_path=osp.join(root, seg),
                     reduce_zero_label=False, label_map=None) for img, seg in pairs]


@pytest.fixture
def plugins():
    """Register the plugins as ``@REGISTRY.register_module()`` in a plugin package would; remove them after."""
    added = [(MATCH_COSTS, CentroidCost), (LOSSES, MaskL1Loss), (DATASETS, ListFileDataset)]
    for registry, cls in added:
        registry.register_module(module=cls)
    yield
    for registry, cls in added:
        registry.module_dict.pop(cls.__name__)


def blob_masks(centres: list[tuple[int, int]], size: int = 32, radius: int = 4) -> Tensor:
    """``[len(centres), size, size]`` bool discs."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return torch.stack([(yy - y) ** 2 + (xx - x) ** 2 <= radius**2 for y, x in centres])


def test_a_cost_over_2d_masks_is_a_plugin(plugins):
    check_contract(MATCH_COSTS, "CentroidCost")
    centres = [(6, 6), (6, 25), (25, 6), (25, 25)]
    target = Targets(torch.zeros(4, dtype=torch.long), blob_masks(centres))
    order = torch.tensor([2, 0, 3, 1])  # prediction q sits on target order[q], at a quarter of the resolution
    logits = torch.where(blob_masks([(y // 4, x // 4) for y, x in centres], size=8, radius=1)[order], 8.0, -8.0)
    matcher = MATCHERS.build(dict(type="HungarianMatcher", costs=[dict(type="CentroidCost")], num_points=None))
    (pred_idx, tgt_idx), = matcher(torch.zeros(1, 4, 2), logits[None], [target])
    assert pred_idx.tolist() == [0, 1, 2, 3] and tgt_idx.tolist() == order.tolist()


def test_a_mask_loss_is_a_plugin(plugins):
    check_contract(LOSSES, "MaskL1Loss")
    criterion = CRITERIA.build(dict(
        type="SetCriterion", num_classes=2, num_points=None, deep_supervision=True,
        matcher=dict(type="HungarianMatcher", costs=[dict(type="ClassCost"), dict(type="DiceCost")], num_points=None),
        class_loss=dict(type="CrossEntropyLoss"), mask_losses=[dict(type="MaskL1Loss", loss_weight=3.0)]))
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 3, 8, 8, generator=g)
    outputs = DecoderOutput([torch.randn(1, 3, 3, generator=g)] * 2, [logits] * 2)
    target = Targets(torch.tensor([1]), torch.rand(1, 8, 8, generator=g) > 0.5)
    losses = criterion(outputs, [target])
    assert set(losses) == {"loss_ce", "loss_l1", "loss_ce_0", "loss_l1_0"}
    (src, tgt), = criterion.matcher(outputs.pred_logits, logits, [target])
    expected = 3.0 * (logits[0, src].sigmoid() - target.masks[tgt].float()).abs().mean()
    torch.testing.assert_close(losses["loss_l1"], expected)


def test_a_dataset_is_a_plugin(plugins, tmp_path):
    label = np.zeros((16, 20), dtype=np.uint8)
    label[4:10, 5:12] = 1
    Image.fromarray(label).save(tmp_path / "a.png")
    Image.fromarray(np.full((16, 20, 3), 128, dtype=np.uint8)).save(tmp_path / "a.jpg")
    (tmp_path / "list.txt").write_text("a.jpg a.png\n")
    dataset = DATASETS.build(dict(type="ListFileDataset", data_root=str(tmp_path), ann_file="list.txt", pipeline=[
        dict(type="LoadImageFromFile"), dict(type="LoadSegAnnotations"), dict(type="PackSegInputs")]))
    sample = dataset[0]["data_samples"]
    assert dataset.metainfo["classes"] == ("background", "blob") and dataset.num_classes == 2
    assert sample.gt.labels.tolist() == [0, 1] and int(sample.gt.masks[1].sum()) == 6 * 7
