"""tools/analysis/benchmark.py --compare-hf: one markdown table with the ratios transformers / ours."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools/analysis"))
import benchmark  # noqa: E402


def _rows(ours_infer: float, hf_infer: float) -> list[dict]:
    return [
        dict(impl="ours", mode="infer", median_s=ours_infer, peak_mb=1000.0),
        dict(impl="hf", mode="infer", median_s=hf_infer, peak_mb=1500.0),
        dict(impl="ours", mode="train", median_s=2.0, peak_mb=2000.0),
        dict(impl="hf", mode="train", median_s=5.0, peak_mb=2400.0),
    ]


def test_table_has_one_row_per_measurement_with_the_ratio():
    table = benchmark.markdown_table(_rows(0.5, 1.0), "header line").splitlines()
    assert table[0] == "header line"
    assert table[2] == "| measurement | ours | transformers | transformers / ours |"
    assert table[4] == "| inference, s (median) | 0.5000 | 1.0000 | 2.00 |"
    assert table[5] == "| train step, s (median) | 2.0000 | 5.0000 | 2.50 |"
    assert table[6] == "| peak memory, inference, MB | 1000 | 1500 | 1.50 |"
    assert table[7] == "| peak memory, train step, MB | 2000 | 2400 | 1.20 |"


def test_compare_hf_argument_is_handed_on_as_hf_dir():
    argv = ["cfg.py", "--compare-hf", "HF", "--runs", "1", "--compare-hf=HF2"]
    assert benchmark._without_compare_hf(argv) == ["cfg.py", "--runs", "1"]


def test_compare_hf_runs_both_models_on_a_tiny_pair(tmp_path, capsys):
    pytest.importorskip("transformers")
    import make_hf_model

    from segformers.checkpoint.hf import convert_hf_folder

    make_hf_model.build("mask2former-tiny").save_pretrained(tmp_path / "hf")
    config, weights = convert_hf_folder(tmp_path / "hf", tmp_path / "conv")
    benchmark.main([str(config), "--checkpoint", str(weights), "--compare-hf", str(tmp_path / "hf"),
                    "--shape", "64", "64", "--runs", "1", "--warmup", "0", "--threads", "1"])
    out = capsys.readouterr().out.splitlines()
    assert "load average before" in out[0] and "input 1x3x64x64" in out[0]
    rows = [line.split("|")[1:-1] for line in out[4:8]]
    assert [r[0].strip() for r in rows] == [label for _, _, label in benchmark.MEASURES]
    for _, ours, hf, ratio in rows:
        assert float(ours) > 0 and float(hf) > 0
        assert float(ratio) == pytest.approx(float(hf) / float(ours), rel=0.02, abs=0.01)
