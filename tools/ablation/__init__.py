"""The ablation runner behind ``tools/ablate.py``: grids of variants x seeds, run through tools/train.py and
tools/test.py, recorded in ``results.jsonl`` and summarised in ``table.md`` (docs/ablations.md)."""
