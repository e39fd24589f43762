"""Processor serialisation like transformers: save_pretrained / from_pretrained / to_json_string / to_json_file,
round trips through transformers' own files, and the deprecated ``Fast`` names."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from segformers.processing import (
    Mask2FormerImageProcessor, Mask2FormerImageProcessorFast, MaskFormerImageProcessor, MaskFormerImageProcessorFast,
)

from hf_processing_utils import hf_classes, transformers

OPTIONS = dict(ignore_index=255, do_reduce_labels=True, num_labels=150, size={"shortest_edge": 384, "longest_edge": 512},
               size_divisor=16, resample=3, image_mean=[0.5, 0.4, 0.3], image_std=[0.2, 0.3, 0.4])
SETTINGS = ("do_resize", "size", "size_divisor", "resample", "do_rescale", "rescale_factor", "do_normalize",
            "image_mean", "image_std", "ignore_index", "do_reduce_labels", "num_labels")


def settings(processor) -> dict:  # noqa: ANN001
    return {k: getattr(processor, k) if not isinstance(getattr(processor, k), tuple) else list(getattr(processor, k))
            for k in SETTINGS}


def test_save_pretrained_writes_transformers_layout_and_round_trips(tmp_path):
    proc = Mask2FormerImageProcessor(**OPTIONS)
    written = proc.save_pretrained(tmp_path)
    assert written == [str(tmp_path / "preprocessor_config.json")]
    text = (tmp_path / "preprocessor_config.json").read_text()
    assert text == proc.to_json_string() and text.endswith("}\n")
    assert json.loads(text) == proc.to_dict() and list(json.loads(text)) == sorted(proc.to_dict())
    again = Mask2FormerImageProcessor.from_pretrained(tmp_path)
    assert again.to_dict() == proc.to_dict()
    assert Mask2FormerImageProcessor.from_pretrained(tmp_path / "preprocessor_config.json").to_dict() == proc.to_dict()
    assert Mask2FormerImageProcessor.from_pretrained(tmp_path, ignore_index=0).ignore_index == 0  # overrides
    proc.to_json_file(tmp_path / "copy.json")
    assert MaskFormerImageProcessor.from_json_file(tmp_path / "copy.json").to_dict()["size"] == OPTIONS["size"]


@pytest.mark.parametrize("family", ["maskformer", "mask2former"])
def test_files_round_trip_with_transformers(family, tmp_path):
    ours_cls = MaskFormerImageProcessor if family == "maskformer" else Mask2FormerImageProcessor
    hf_cls = hf_classes()[family]
    ours_cls(**OPTIONS).save_pretrained(tmp_path / "ours")
    theirs = hf_cls.from_pretrained(tmp_path / "ours")  # transformers reads our file
    assert settings(theirs) == settings(ours_cls(**OPTIONS))
    auto = transformers.AutoImageProcessor.from_pretrained(tmp_path / "ours")
    assert type(auto).__name__.startswith(ours_cls.__name__) and auto.ignore_index == 255
    hf_cls(**OPTIONS).save_pretrained(tmp_path / "theirs")
    ours = ours_cls.from_pretrained(tmp_path / "theirs")  # and we read theirs
    assert settings(ours) == settings(ours_cls(**OPTIONS))
    g = np.random.default_rng(0)
    images = [g.integers(0, 256, (40, 60, 3), dtype=np.uint8)]
    maps = [g.integers(0, 4, (40, 60), dtype=np.uint8)]
    a, b = ours(images, segmentation_maps=maps), theirs(images, segmentation_maps=maps, return_tensors="pt")
    assert np.array_equal(a["pixel_values"].numpy(), b["pixel_values"].numpy())
    assert np.array_equal(a["class_labels"][0].numpy(), b["class_labels"][0].numpy())


def test_fast_names_are_deprecated_aliases(tmp_path):
    for fast, base in ((MaskFormerImageProcessorFast, MaskFormerImageProcessor),
                       (Mask2FormerImageProcessorFast, Mask2FormerImageProcessor)):
        with pytest.warns(FutureWarning, match=f"`{base.__name__}Fast` is deprecated"):
            proc = fast(ignore_index=255)
        assert isinstance(proc, base)
        assert proc.to_dict() == base(ignore_index=255).to_dict()  # image_processor_type without "Fast"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        MaskFormerImageProcessorFast(ignore_index=255).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "preprocessor_config.json").read_text())["image_processor_type"] == (
        "MaskFormerImageProcessor")
    legacy = {**MaskFormerImageProcessor().to_dict(), "image_processor_type": "MaskFormerImageProcessorFast"}
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(legacy))
    assert MaskFormerImageProcessor.from_pretrained(tmp_path).to_dict() == MaskFormerImageProcessor().to_dict()


def test_serialisation_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="hub names are not downloaded"):
        MaskFormerImageProcessor.from_pretrained("facebook/maskformer-swin-base-ade")
    with pytest.raises(ValueError, match="push_to_hub is not supported"):
        MaskFormerImageProcessor().save_pretrained(tmp_path, push_to_hub=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file; pass a folder"):
        MaskFormerImageProcessor().save_pretrained(tmp_path / "file")
