"""tools/analysis/thing_errors.py: the IoU matrix and the recall report it prints."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools/analysis"))
import thing_errors  # noqa: E402


def test_iou_matrix_against_hand_counts():
    gt = np.zeros((2, 4, 4), np.uint8)
    gt[0, :2, :2] = 1  # 4 pixels
    gt[1, 2:, :] = 1  # 8 pixels
    preds = np.zeros((3, 4, 4), bool)
    preds[0, :2, :3] = True  # 6 pixels, 4 shared with gt 0
    preds[1, 3:, :] = True  # 4 pixels, inside gt 1
    m = thing_errors.iou_matrix(gt, preds)  # prediction 2 is empty
    np.testing.assert_allclose(m, [[4 / 6, 0, 0], [0, 4 / 8, 0]])
    assert thing_errors.iou_matrix(gt, np.zeros((0, 4, 4), bool)).shape == (2, 0)


def test_report_counts_recall_per_size(capsys):
    rows = np.array([[500, 0.9, 0.8, 1], [100, 0.4, 0.0, 0], [2000, 0.7, 0.6, 0], [2000, 0.6, 0.3, 1]], float)
    thing_errors.report(rows, 0.5)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["all", "4", "0.750", "0.500", "0.250", "0.650"]
    assert lines[2].split()[-5:] == ["2", "0.500", "0.500", "0.500", "0.650"]  # small: 500 and 100 pixels
    assert lines[3].split() == ["tiny", "(<16^2)", "1", "0.000", "0.000", "0.000", "0.400"]
    assert lines[4].split()[-5:] == ["2", "1.000", "0.500", "0.000", "0.650"]


def test_print_confusion_rows_in_percent_of_their_pixels(capsys):
    conf = np.array([[0, 0, 0], [1, 6, 3], [0, 2, 2]])
    thing_errors.print_confusion(conf, ["sky", "disk", "square"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["sky", "disk", "square"]
    assert lines[2].split() == ["disk", "10.0", "60.0", "30.0"]  # the empty 'sky' row is left out
    assert lines[3].split() == ["square", "0.0", "50.0", "50.0"]
    assert len(lines) == 4
