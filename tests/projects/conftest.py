"""The plugin tests' toy data, written once per session."""
import pytest
from variant_probes import make_toy_data


@pytest.fixture(scope="session")
def toy_root(tmp_path_factory) -> str:
    return make_toy_data(str(tmp_path_factory.mktemp("toy")))
