"""``<work_dir>/results.jsonl``: one JSON record per cell attempt, appended by the runner process only.

A cell counts as finished when its latest record has ``status == "ok"``; finished cells are skipped by the
next invocation, failed ones are run again (resuming from their checkpoints).
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Iterable, Union

RESULTS = "results.jsonl"
METRICS = (("PQ", "panoptic_seg/PQ"), ("mIoU", "sem_seg/mIoU"), ("AP", "segm/AP"))
_LOCK = threading.Lock()


def results_path(work_dir: Union[str, Path]) -> Path:
    return Path(work_dir) / RESULTS


def append_record(work_dir: Union[str, Path], record: dict[str, Any]) -> None:
    """Append one record (one line; safe from several threads of this process)."""
    path = results_path(work_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=True)
    with _LOCK, open(path, "a") as f:
        f.write(line + "\n")
        f.flush()


def read_records(work_dir: Union[str, Path]) -> list[dict[str, Any]]:
    """Every record of ``results.jsonl`` in order (a truncated last line, from a killed runner, is ignored)."""
    path = results_path(work_dir)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def latest(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record of every cell key."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        out[r["key"]] = r
    return out


def finished_keys(records: Iterable[dict[str, Any]]) -> set[str]:
    """Keys of the cells whose latest record is ``ok``."""
    return {k for k, r in latest(records).items() if r.get("status") == "ok"}


def metric(record: dict[str, Any], short: str) -> Any:
    """``record``'s value of a short metric name (PQ, mIoU, AP), or None."""
    full = dict(METRICS)[short]
    return (record.get("metrics") or {}).get(full)
