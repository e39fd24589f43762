"""tools/ablate.py end to end on a tiny toy dataset: records, resume (finished cells skipped, an interrupted cell
continues from its checkpoint), table.md with and without matplotlib, and the local-parallel and submitit
executors; plus the grid checks and the variant rules (fast, no training)."""
from __future__ import annotations

import builtins
import math
import os
from pathlib import Path

import pytest
from ablate_probes import make_toy, tiny_base
from mmengine.config import Config

from tools import ablate
from tools.ablation.cells import apply_budget, cell_config
from tools.ablation.executors import cpu_count
from tools.ablation.flops import PAPER_BASE
from tools.ablation.grid import load_grid
from tools.ablation.results import read_records
from tools.ablation.study import write_outputs
from tools.ablation.table import build_table
from tools.ablation.variants import REPO, apply_variant, import_variant_modules, load_catalog

HERE = Path(__file__).resolve().parent
METRIC_KEYS = ("panoptic_seg/PQ", "sem_seg/mIoU", "segm/AP")
QUERIES_5 = dict(name="queries_5", table="Xa", label="5 queries", paper=dict(PQ=50.5, AP=42.4, flops_g=217),
                 options={"model.transformer_decoder.num_queries": 5})


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ablate")
    make_toy(root / "data")
    return tiny_base(root / "tiny_base.py", root / "data")


@pytest.fixture(autouse=True)
def _probe_path(monkeypatch):
    """The cells' subprocesses import ablate_probes (the tiny base's custom_imports)."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("ABLATE_KILL_AFTER", raising=False)


def write_grid(path: Path, base: Path, variants: list, seeds=(0,), budget=None, executor=None) -> str:
    grid = dict(base=str(base), variants=variants, seeds=list(seeds), budget=budget or dict(iters=3),
                work_dir=str(path.parent / "work"), flops_input=(64, 64), executor=executor or dict(type="local"))
    path.write_text("\n".join(f"{k} = {v!r}" for k, v in grid.items()) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def parallel_run(toy, tmp_path_factory):
    """The two-cell grid, run with ``local-parallel --jobs 2`` (both cells at once, one thread each)."""
    folder = tmp_path_factory.mktemp("parallel")
    grid = write_grid(folder / "grid.py", toy, ["masked_attention", QUERIES_5])
    os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    assert ablate.main([grid, "--executor", "local-parallel", "--jobs", "2"]) == 0
    return grid, folder / "work"


def test_a_grid_records_every_cell_and_a_second_run_skips_them(parallel_run, capsys):
    grid, work = parallel_run
    records = read_records(work)
    assert sorted(r["key"] for r in records) == ["masked_attention/seed0", "queries_5/seed0"]
    for r in records:
        assert r["status"] == "ok", r.get("log_tail")
        assert all(math.isfinite(r["metrics"][k]) and 0 <= r["metrics"][k] <= 100 for k in METRIC_KEYS)
        assert r["iters"] == 3 and r["resumed_from_iter"] == 0 and r["flops_input"] == [64, 64]
        assert r["params"] > 10_000 and r["flops_g"] > 0 and 0 < r["sec_per_iter"] < 30
        assert r["peak_rss_mb"] > 100 and r["wall_s"] > r["train_s"] > 0 and r["threads"] == max(1, cpu_count() // 2)
    by_name = {r["name"]: r for r in records}
    assert by_name["queries_5"]["params"] < by_name["masked_attention"]["params"]  # 5 query embeddings fewer
    table = (work / "table.md").read_text()
    assert "## Table Xa: number of queries" in table and "(`queries_5`)" in table and "50.5 (-1.4)" in table
    assert (work / "plot.png").stat().st_size > 1000
    lines = (work / "results.jsonl").read_text()
    capsys.readouterr()
    assert ablate.main([grid]) == 0  # the sequential executor this time: nothing left to run
    assert "2 cells (2 finished before, skipped)" in capsys.readouterr().out
    assert (work / "results.jsonl").read_text() == lines
    (work / "table.md").unlink()
    assert ablate.main([grid, "--table-only"]) == 0 and (work / "table.md").read_text() == table


def test_an_interrupted_cell_resumes_from_its_checkpoint(toy, tmp_path, monkeypatch, capsys, parallel_run):
    """The sequential executor; its record has the same keys as local-parallel's."""
    grid = write_grid(tmp_path / "grid.py", toy, ["masked_attention"], budget=dict(iters=4))
    monkeypatch.setenv("ABLATE_KILL_AFTER", "2")  # SIGKILL after the checkpoint of iteration 2
    assert ablate.main([grid]) == 1
    first, = read_records(tmp_path / "work")
    assert first["status"] == "failed" and first["stage"] == "train" and first["exit_code"] == -9
    cell = tmp_path / "work" / "cells" / "masked_attention" / "seed0"
    assert (cell / "iter_2.pth").is_file() and not (cell / "train_done.json").exists()
    assert ablate.main([grid]) == 0
    assert "1 cells (0 finished before, skipped)" in capsys.readouterr().out
    second = read_records(tmp_path / "work")[-1]
    assert second["status"] == "ok" and second["resumed_from_iter"] == 2 and second["iters"] == 4
    reference = read_records(parallel_run[1])
    assert sorted(second) == sorted(reference[0]) == sorted(reference[1])
    assert sorted(second["metrics"]) == sorted(reference[0]["metrics"]) and second["threads"] == cpu_count()


def _record(name: str, seed: int, pq: float, table="Xa", paper=None, flops=10.0) -> dict:
    return dict(key=f"{name}/seed{seed}", name=name, seed=seed, status="ok", table=[table] if name != "masked_attention"
                else ["4a", "Xa"], label=name, paper=paper or {}, flops_g=flops, params=2e6, sec_per_iter=0.1,
                iters=100, peak_rss_mb=500.0, metrics={"panoptic_seg/PQ": pq, "sem_seg/mIoU": 80.0})


def test_the_table_has_mean_std_delta_and_the_papers_numbers():
    base_paper = dict(PQ=51.9, flops_g=226)
    records = [_record("masked_attention", 0, 50.0, paper=base_paper), _record("masked_attention", 1, 52.0,
                                                                               paper=base_paper),
               _record("q10", 0, 40.0, paper=dict(PQ=50.5, flops_g=217), flops=9.0),
               _record("q10", 1, 46.0, paper=dict(PQ=50.5, flops_g=217), flops=9.0),
               dict(_record("q10", 2, 0.0), status="failed", stage="test", work_dir="W")]
    table = build_table(records, "masked_attention")
    row = next(line for line in table.splitlines() if "(`q10`)" in line).split(" | ")
    assert row[1:5] == ["0,1", "43.0 ± 4.2", "-8.0", "50.5 (-1.4)"]  # mean ± sample std, Δ, paper (Δ paper)
    assert row[11:14] == ["9.000", "0.900", "0.960"]  # GFLOPs, ratio ours, ratio paper (217 / 226)
    assert "51.0 ± 1.4" in table and "`q10/seed2` failed in test (see W/cell.log)" in table
    assert "## Table 4a" not in table  # no variant of 4a besides the baseline


def test_the_table_is_written_without_matplotlib(parallel_run, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):  # noqa: ANN001, ANN202
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    _, work = parallel_run
    (work / "plot.png").unlink()
    path, note = write_outputs(str(work), "masked_attention")
    assert "matplotlib is not installed" in note and note in path.read_text()
    assert "(`queries_5`)" in path.read_text() and not (work / "plot.png").exists()


def test_the_slurm_executor_runs_a_cell_through_submitit(toy, tmp_path):
    pytest.importorskip("submitit")
    executor = dict(type="slurm", cluster="local", slurm=dict(timeout_min=10, cpus_per_task=1, partition="x"))
    grid = write_grid(tmp_path / "grid.py", toy, ["masked_attention"], executor=executor)
    assert ablate.main([grid]) == 0
    record, = read_records(tmp_path / "work")
    assert record["status"] == "ok" and all(k in record["metrics"] for k in METRIC_KEYS)
    assert list((tmp_path / "work" / "submitit").glob("*_result.pkl"))  # it went through submitit's files


def _grid_error(tmp_path: Path, toy: Path, **changes) -> str:
    grid = dict(base=str(toy), variants=["masked_attention"], seeds=[0], budget=dict(iters=3))
    grid.update(changes)
    (tmp_path / "g.py").write_text("\n".join(f"{k} = {v!r}" for k, v in grid.items()) + "\n")
    with pytest.raises(ValueError) as info:
        load_grid(tmp_path / "g.py")
    return str(info.value)


def test_a_bad_grid_is_refused_naming_the_key(tmp_path, toy):
    assert "'variants' names variants that are not in the catalog: ['nope']" in _grid_error(
        tmp_path, toy, variants=["masked_attention", "nope"])
    assert "'budget'" in _grid_error(tmp_path, toy, budget=dict(iters=0))
    assert "'budget'" in _grid_error(tmp_path, toy, budget=dict(iters=3, seconds=4))
    assert "'seeds' must be a non-empty list" in _grid_error(tmp_path, toy, seeds=[])
    assert "'base' must name an existing config" in _grid_error(tmp_path, toy, base="nope.py")
    assert "'queries' is not a grid key" in _grid_error(tmp_path, toy, queries=3)


def test_dry_run_lists_missing_variants(tmp_path, toy, capsys):
    grid = write_grid(tmp_path / "grid.py", toy, ["masked_attention", "not_yet", QUERIES_5], seeds=(0, 1))
    assert ablate.main([grid, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "4 cells = 2 variants x seeds [0, 1]" in out and "model.transformer_decoder.num_queries = 5" in out
    assert "MISSING from the catalog" in out and "not_yet" in out and not (tmp_path / "work").exists()


def test_catalog_names_are_unique_across_plugins(tmp_path):
    for proj in ("a", "b"):
        (tmp_path / "projects" / proj).mkdir(parents=True)
        (tmp_path / "projects" / proj / "ablation_variants.py").write_text(
            "VARIANTS = [dict(name='same', table='4c', options={})]\n")
    with pytest.raises(ValueError, match="'same' is defined twice: in projects/a/ablation_variants.py and in "
                                         "projects/b/ablation_variants.py"):
        load_catalog(tmp_path)


def test_apply_variant_resolves_references_and_deletes():
    cfg = Config(dict(model=dict(pixel_decoder=dict(type="A", conv_dim=64, extra=1), backbone=dict(out=["r2"])),
                      custom_imports=dict(imports=["x"])))
    variant = dict(name="v", custom_imports=["y", "x"], options={
        "model.pixel_decoder": dict(_delete_=True, type="B", conv_dim="${model.pixel_decoder.conv_dim}",
                                    levels="${model.backbone.out}")})
    out = apply_variant(cfg, variant)
    assert out.model.pixel_decoder.to_dict() == dict(type="B", conv_dim=64, levels=["r2"])
    assert out.custom_imports.imports == ["x", "y"] and cfg.model.pixel_decoder.extra == 1  # base untouched
    with pytest.raises(ValueError, match="refers to 'model.nope'"):
        apply_variant(cfg, dict(name="w", options={"model.x": "${model.nope}"}))


def test_an_iteration_budget_moves_the_end_anchored_schedulers():
    cfg = Config(dict(train_cfg=dict(max_iters=1500), max_iters=1500, custom_hooks=[
        dict(type="TimeBudgetHook", budget_s=150), dict(type="Other")], param_scheduler=[
        dict(type="LinearLR", begin=0, end=100, by_epoch=False),
        dict(type="LinearLR", begin=1100, end=1500, by_epoch=False)]))
    apply_budget(cfg, dict(iters=600))
    assert cfg.train_cfg.max_iters == cfg.max_iters == 600 and cfg.custom_hooks == [dict(type="Other")]
    assert [(s["begin"], s["end"]) for s in cfg.param_scheduler] == [(0, 100), (200, 600)]
    apply_budget(cfg, dict(seconds=90))
    assert cfg.custom_hooks[-1] == dict(type="TimeBudgetHook", budget_s=90.0, stop_at_budget=True)


@pytest.mark.parametrize("base", ["configs/ablations/toy_base.py", PAPER_BASE])
def test_the_toy_grids_variants_build_on_both_bases(base):
    """Every variant of the toy grid that exists now (catalog or inline) builds on the toy and the paper base."""
    import torch

    from segformers.apis import build_model

    grid = load_grid(REPO / "configs" / "ablations" / "toy_grid.py", allow_missing=True)
    grid.base = base
    for variant in grid.variants:
        cfg = cell_config(grid, variant, 0, "unused")
        import_variant_modules(cfg)
        with torch.device("meta"):
            model = build_model(cfg)
        assert sum(p.numel() for p in model.parameters()) > 0, variant["name"]
        if variant["name"].startswith("queries_"):
            queries = int(variant["name"].split("_")[1])
            assert model.transformer_decoder.query_feat.weight.shape[0] == queries


def test_missing_data_is_written_by_the_grids_command_or_the_command_is_named(tmp_path, monkeypatch):
    from tools.ablation.study import prepare_data

    monkeypatch.chdir(tmp_path)
    grid = load_grid(write_grid(tmp_path / "grid.py", REPO / "configs/ablations/toy_base.py", ["masked_attention"]))
    grid.data = dict(check="made/ok.txt", command="python -c \"import os; os.makedirs('made'); open('made/ok.txt', 'w')\"")
    prepare_data(grid)
    assert (tmp_path / "made" / "ok.txt").is_file()
    grid.data = dict(check="never.txt", command="python -c \"raise SystemExit(3)\"")
    with pytest.raises(RuntimeError, match="run it yourself from the repository root: python -c"):
        prepare_data(grid)
