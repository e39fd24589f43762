"""Config values are checked against the type hints of the component they enter, at build time."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Optional, Union

import pytest
from mmengine.config import Config
from mmengine.registry import Registry
from torch import nn

from segformers.apis.model import build_model
from segformers.registry import build_model_with_hint
from segformers.type_check import matches, parameter_hints

if TYPE_CHECKING:
    from segformers.structures import Targets  # unresolvable at run time: that hint is skipped

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "configs/quickstart/mask2former_r18-tiny_2xb2-570s_toy-panoptic.py"


@pytest.mark.parametrize("value, hint, ok", [
    (3, int, True), ("3", int, False), (True, int, False), (3.0, int, False),
    (3, float, True), (0.5, float, True), ("0.5", float, False), (False, float, False),
    (True, bool, True), (1, bool, False), ("x", str, True), (None, Optional[int], True), (None, int, False),
    (2, Union[int, Sequence[int]], True), ([1, 2], Union[int, Sequence[int]], True),
    ([1, "2"], Union[int, Sequence[int]], False), ((1, 2), list[int], True), ([1, 2], tuple[int, int], True),
    ([1, 2, 3], tuple[int, int], False), ([1.0, 2], tuple[float, ...], True), ("ab", list[str], False),
    ({"a": 1}, dict[str, int], True), ({"a": "1"}, Mapping[str, int], False), ([("a", 1)], dict, False),
    (dict(type="Linear"), nn.Module, True), (nn.Linear(1, 1), Optional[nn.Module], True),
    ("gather", Literal["gather", "grid_sample"], True), ("gathr", Literal["gather", "grid_sample"], False),
    (3, int | None, True), ("3", int | None, False),
])
def test_matches(value, hint, ok):
    assert matches(value, hint) is ok


class Component(nn.Module):
    """Keyword-only, string annotations (``from __future__ import annotations``), one unresolvable."""

    def __init__(self, *, width: int, scale: Optional[float] = None, targets: "Targets" = None,
                 sub: Union[dict, nn.Module, None] = None, **extra: object) -> None:
        super().__init__()
        self.width = width


def test_string_annotations_resolve_and_the_unresolvable_one_is_skipped():
    hints = parameter_hints(Component)
    assert {k: v[0] for k, v in hints.items()} == {"width": int, "scale": Optional[float],
                                                   "sub": Union[dict, nn.Module, None]}


def test_error_names_component_key_type_and_value():
    registry = Registry("toy part", build_func=build_model_with_hint)
    registry.register_module(module=Component)
    assert registry.build(dict(type="Component", width=4, scale=2, sub=dict(type="X"), anything="ok")).width == 4
    with pytest.raises(TypeError, match=r"^Component \(toy part registry\): argument width='4' \(str\) does not fit "
                                        r"its type int; fix width in the config$"):
        registry.build(dict(type="Component", width="4"))
    with pytest.raises(TypeError, match=r"argument scale='2' \(str\) does not fit its type Optional\[float\]"):
        registry.build(dict(type="Component", scale="2"), default_args=dict(width=4))


def test_a_string_num_queries_names_the_key_not_an_embedding_error():
    cfg = Config.fromfile(str(QUICKSTART))
    cfg.model.transformer_decoder.num_queries = "30"
    with pytest.raises(TypeError, match=r"MultiScaleMaskedTransformerDecoder \(transformer decoder registry\): "
                                        r"argument num_queries='30' \(str\) does not fit its type int"):
        build_model(cfg)


def test_a_components_own_value_error_is_kept():
    from segformers.registry import TRANSFORMS

    with pytest.raises(ValueError, match="non-empty list of pipelines"):
        TRANSFORMS.build(dict(type="RandomChoice", transforms=dict(type="RandomFlip")))
    with pytest.raises(TypeError, match=r"RandomFlip \(transform registry\): argument prob='0.5'"):
        TRANSFORMS.build(dict(type="RandomFlip", prob="0.5"))
