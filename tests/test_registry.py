import subprocess
import sys

import pytest
from mmengine.registry import Registry

from segformers.registry import ALL_REGISTRIES, PIXEL_DECODERS, build_with_hint, listing


def test_unknown_name_names_registry_entries_closest_and_plugin_hint():
    reg = Registry("toy part", scope="segformers_test")

    @reg.register_module()
    class FPNPixelDecoder:  # noqa: D401
        pass

    @reg.register_module()
    class MSDeformAttnPixelDecoder:
        pass

    with pytest.raises(KeyError) as err:
        build_with_hint(dict(type="FPNPixelDecodr"), reg)
    msg = str(err.value)
    assert "segformers_test::toy part registry" in msg
    assert "Closest names: ['FPNPixelDecoder'" in msg
    assert "MSDeformAttnPixelDecoder" in msg  # what it holds
    assert "custom_imports" in msg


def test_role_registry_error_lists_real_entries():
    import segformers.models  # noqa: F401

    with pytest.raises(KeyError) as err:
        PIXEL_DECODERS.build(dict(type="MSDeformAttnPixelDecodr"))
    msg = str(err.value)
    assert "pixel decoder registry" in msg and "MSDeformAttnPixelDecoder" in msg


def test_listing_prints_every_registry():
    text = listing()
    for key in ALL_REGISTRIES:
        assert text.count(f"\n{key} (") + text.startswith(f"{key} (") == 1
    assert "MaskFormer" in text and "SegDataPreprocessor" in text


def test_module_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "segformers.registry"], capture_output=True, text=True, check=True)
    assert "backbones (segformers::backbone)" in out.stdout
