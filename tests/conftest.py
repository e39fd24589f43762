"""Test-wide settings: one torch thread per worker (pytest -n 2 on 2 cores would oversubscribe)."""
import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
