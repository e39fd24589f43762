"""Cityscapes wrappers run cityscapesscripts on the processed images of a fake gtFine folder."""
import numpy as np
import pytest
import torch
from cityscapesscripts.helpers.labels import trainId2label
from PIL import Image

from segformers.evaluation import CityscapesInstanceMetric, CityscapesSemSegMetric, SemSegMetric

TRAIN_NAMES = [trainId2label[i].name for i in range(19)]
H, W = 48, 64
LABEL_TO_TRAIN = {0: 255, 7: 0, 8: 1, 24: 11, 26: 13}


def make_gt(rng):
    """labelIds with road / sidewalk / void and three instances (two persons, one car)."""
    label = np.full((H, W), 7, np.uint8)
    label[: H // 2] = 8
    label[:, :4] = 0
    inst = label.astype(np.int32)
    for k, (lid, y, x) in enumerate([(24, 5, 10), (24, 25, 30), (26, 8, 45)]):
        dy, dx = rng.integers(0, 4, size=2)
        label[y + dy:y + dy + 12, x + dx:x + dx + 14] = lid
        inst[y + dy:y + dy + 12, x + dx:x + dx + 14] = lid * 1000 + k
    return label, inst


@pytest.fixture(scope="module")
def gt_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("gtFine") / "val"
    (root / "aachen").mkdir(parents=True)
    rng = np.random.default_rng(0)
    gts = {}
    for i in range(3):  # image 2 exists on disk but is never processed
        stem = f"aachen_000000_{i:06d}"
        label, inst = make_gt(rng)
        Image.fromarray(label).save(root / "aachen" / f"{stem}_gtFine_labelIds.png")
        Image.fromarray(inst.astype(np.uint16)).save(root / "aachen" / f"{stem}_gtFine_instanceIds.png")
        gts[stem] = (label, inst)
    return str(root), gts


def sample(stem, **pred):
    return {"img_path": f"leftImg8bit/val/aachen/{stem}_leftImg8bit.png", "pred": pred}


def train_ids(label):
    return torch.from_numpy(np.vectorize(LABEL_TO_TRAIN.get)(label).astype(np.int64))


def test_semantic_perfect_and_equal_to_sem_seg_metric(gt_dir):
    root, gts = gt_dir
    stems = sorted(gts)[:2]
    perfect = CityscapesSemSegMetric(gt_dir=root)
    perfect.dataset_meta = {"classes": TRAIN_NAMES}
    perfect.process({}, [sample(s, sem_seg=train_ids(gts[s][0]).clamp(max=18)) for s in stems])
    out = perfect.evaluate(2)
    assert out["cityscapes/IoU"] == pytest.approx(100.0) and out["cityscapes/iIoU"] == pytest.approx(100.0)

    g = torch.Generator().manual_seed(0)
    noisy, ours = CityscapesSemSegMetric(gt_dir=root), SemSegMetric(num_classes=19)
    noisy.dataset_meta = {"classes": TRAIN_NAMES}
    for s in stems:
        gt = train_ids(gts[s][0])
        pred = gt.clamp(max=18).clone()
        flip = torch.rand(gt.shape, generator=g) < 0.3
        pred[flip] = torch.tensor([0, 1, 11, 13])[torch.randint(0, 4, gt.shape, generator=g)][flip]
        noisy.process({}, [sample(s, sem_seg=pred)])
        ours.process({}, [{"pred": {"sem_seg": pred}, "gt_sem_seg": gt}])
    cs, mine = noisy.evaluate(2), ours.evaluate(2)
    # every predicted class occurs in the ground truth, so both conventions agree
    assert cs["cityscapes/IoU"] == pytest.approx(mine["sem_seg/mIoU"], abs=1e-6)
    assert 0 < cs["cityscapes/iIoU"] < 100


def instances_of(inst, drop=()):
    ids = [i for i in np.unique(inst) if i >= 1000 and i not in drop]
    masks = torch.from_numpy(np.stack([inst == i for i in ids]))
    labels = torch.tensor([11 if i // 1000 == 24 else 13 for i in ids])
    return {"masks": masks, "labels": labels, "scores": torch.full((len(ids),), 0.9)}


def test_instance_ap(gt_dir):
    root, gts = gt_dir
    stems = sorted(gts)[:2]
    metric = CityscapesInstanceMetric(gt_dir=root)
    metric.dataset_meta = {"classes": TRAIN_NAMES}
    metric.process({}, [sample(s, instances=instances_of(gts[s][1])) for s in stems])
    out = metric.evaluate(2)
    assert out == {"cityscapes/AP": pytest.approx(100.0), "cityscapes/AP50": pytest.approx(100.0)}

    metric.process({}, [sample(s, instances=instances_of(gts[s][1], drop=(24000,))) for s in stems])
    out = metric.evaluate(2)
    assert 0 < out["cityscapes/AP"] < 100


def test_missing_ground_truth_is_explained(gt_dir):
    root, _ = gt_dir
    metric = CityscapesSemSegMetric(gt_dir=root)
    metric.process({}, [sample("bremen_000000_000000", sem_seg=torch.zeros(H, W, dtype=torch.long))])
    with pytest.raises(FileNotFoundError, match="gt_dir"):
        metric.evaluate(1)
