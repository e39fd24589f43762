"""Shared fixtures: a small toy dataset written once per test session."""
from __future__ import annotations

import pytest

from data_toy_params import TOY_COUNTS, TOY_SEED, TOY_SIZE

from segformers.data.toy import write_toy_dataset


@pytest.fixture(scope="session")
def toy_root(tmp_path_factory) -> str:
    """Path of a toy dataset (every layout) with 8 train / 6 val images of 64x96."""
    root = tmp_path_factory.mktemp("toy")
    write_toy_dataset(str(root), size=TOY_SIZE, seed=TOY_SEED, workers=1, **TOY_COUNTS)
    return str(root)
