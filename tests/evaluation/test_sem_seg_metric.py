"""SemSegMetric equals scores computed by hand from a pixel-by-pixel confusion matrix."""
import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

from segformers.evaluation import SemSegMetric
from segformers.structures import SegDataSample

K, IGNORE = 4, 255


def make_images(seed=0, n=3, h=7, w=9):
    g = torch.Generator().manual_seed(seed)
    images = []
    for _ in range(n):
        scores = torch.rand(K, h, w, generator=g)
        gt = torch.randint(0, K - 1, (h, w), generator=g)  # class K-1 never in the ground truth
        gt[torch.rand(h, w, generator=g) < 0.2] = IGNORE
        images.append((scores, gt))
    images[0][0][K - 1, :2, :2] = 5.0  # ... but predicted somewhere: must not enter mIoU
    return images


def hand_scores(images):
    conf = [[0] * K for _ in range(K)]
    for scores, gt in images:
        pred = scores.argmax(0)
        for y in range(gt.shape[0]):
            for x in range(gt.shape[1]):
                if int(gt[y, x]) != IGNORE:
                    conf[int(gt[y, x])][int(pred[y, x])] += 1
    ious, accs, weights = [], [], []
    total = sum(sum(row) for row in conf)
    for c in range(K):
        gt_c = sum(conf[c])
        pred_c = sum(conf[r][c] for r in range(K))
        tp = conf[c][c]
        if gt_c == 0:
            continue
        accs.append(tp / gt_c)
        ious.append(tp / (gt_c + pred_c - tp))
        weights.append(gt_c / total)
    return {
        "mIoU": 100 * sum(ious) / len(ious),
        "fwIoU": 100 * sum(i * w for i, w in zip(ious, weights)),
        "mACC": 100 * sum(accs) / len(accs),
        "pACC": 100 * sum(conf[c][c] for c in range(K)) / total,
    }


def test_matches_hand_computed_confusion_matrix():
    images = make_images()
    metric = SemSegMetric(num_classes=K)
    metric.dataset_meta = {"classes": ["a", "b", "c", "d"]}
    samples = [{"pred": {"sem_seg": s}, "gt_sem_seg": g} for s, g in images]
    metric.process({}, samples[:2])
    metric.process({}, samples[2:])
    result = metric.evaluate(len(samples))
    expected = hand_scores(images)
    assert set(result) == {f"sem_seg/{k}" for k in expected}
    for k, v in expected.items():
        assert result[f"sem_seg/{k}"] == pytest.approx(v, abs=1e-6)
    # class 3 is predicted but absent from the ground truth: it is left out (detectron2 convention)
    assert 0 < result["sem_seg/mIoU"] < 100


def test_evaluator_with_data_samples_label_maps_and_classwise():
    images = make_images(seed=1, n=2)
    samples = []
    for scores, gt in images:
        s = SegDataSample(metainfo={"img_path": "x.png", "ori_shape": gt.shape})
        s.pred = {"sem_seg": scores.argmax(0).int()}  # a label map instead of scores
        s.gt_sem_seg = gt[None]  # [1, H, W] accepted
        samples.append(s)
    evaluator = Evaluator(SemSegMetric(classwise=True))
    evaluator.dataset_meta = {"classes": ["a", "b", "c", "d"]}
    evaluator.process(samples)
    result = evaluator.evaluate(len(samples))
    assert result["sem_seg/mIoU"] == pytest.approx(hand_scores(images)["mIoU"], abs=1e-6)
    assert math.isnan(result["sem_seg/IoU-d"])  # never in the ground truth
    assert not math.isnan(result["sem_seg/IoU-a"])


def test_perfect_prediction_scores_100():
    gt = torch.tensor([[0, 1, 2], [IGNORE, 1, 0]])
    metric = SemSegMetric(num_classes=3)
    metric.process({}, [{"pred": {"sem_seg": gt.clamp(max=2)}, "gt_sem_seg": gt}])
    result = metric.compute_metrics(metric.results)
    assert result == {"mIoU": 100.0, "fwIoU": 100.0, "mACC": 100.0, "pACC": 100.0}


def test_clear_errors():
    metric = SemSegMetric(num_classes=3)
    with pytest.raises(ValueError, match="label 7"):
        metric.process({}, [{"pred": {"sem_seg": torch.zeros(2, 2)}, "gt_sem_seg": torch.full((2, 2), 7)}])
    with pytest.raises(ValueError, match="original image size"):
        metric.process({}, [{"pred": {"sem_seg": torch.zeros(2, 3)}, "gt_sem_seg": torch.zeros(2, 2)}])
    with pytest.raises(KeyError, match="sem_seg"):
        metric.process({}, [{"pred": {"panoptic_seg": None}, "gt_sem_seg": torch.zeros(2, 2)}])
    with pytest.raises(ValueError, match="num_classes"):
        SemSegMetric().process({}, [{"pred": {"sem_seg": np.zeros((2, 2))}, "gt_sem_seg": np.zeros((2, 2))}])
