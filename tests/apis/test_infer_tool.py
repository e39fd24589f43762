"""``tools/infer.py``: folders and glob patterns expand to their images, output names never collide, images
are read upright (EXIF) and strictly (a broken one stops the run naming it, or is skipped and counted)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from segformers.apis.model import build_model, load_config
from tests.engine.toy_train_probes import M2F, tiny_overrides, write_tiny_config

REPO = Path(__file__).resolve().parents[2]


def load_infer():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("segformers_tools_infer", REPO / "tools" / "infer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


infer = load_infer()


def save(path: Path, h: int, w: int, seed: int, orientation: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path, exif=exif)
    return path


def test_folders_and_patterns_expand_to_their_images(tmp_path):
    a, b = save(tmp_path / "d/a.jpg", 8, 8, 0), save(tmp_path / "d/sub/b.png", 8, 8, 1)
    (tmp_path / "d/notes.txt").write_text("not an image")
    assert infer.expand_inputs([str(tmp_path / "d")]) == [a.resolve(), b.resolve()]
    assert infer.expand_inputs([str(tmp_path / "d/*.jpg"), str(a)]) == [a.resolve()]  # each image once
    assert infer.expand_inputs([str(tmp_path / "d/**/*.png")]) == [b.resolve()]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"folder .*empty holds no image files \(\.jpg"):
        infer.expand_inputs([str(tmp_path / "empty")])
    with pytest.raises(FileNotFoundError, match=r"d/typo\.jpg does not exist; pass image files, folders"):
        infer.expand_inputs([str(tmp_path / "d/typo.jpg")])
    with pytest.raises(FileNotFoundError, match=r"pattern .*\*\.gif matches no file"):
        infer.expand_inputs([str(tmp_path / "d/*.gif")])


def test_output_names_keep_the_relative_path_and_never_collide(tmp_path):
    paths = [tmp_path / "x/a/img.jpg", tmp_path / "x/b/img.jpg", tmp_path / "x/b/img.png", tmp_path / "x/c.jpg"]
    assert infer.output_names(paths) == ["a/img", "b/img_jpg", "b/img_png", "c"]
    assert infer.output_names([tmp_path / "one/photo.jpg"]) == ["photo"]


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> tuple[str, str]:
    tmp = tmp_path_factory.mktemp("infer")
    overrides = tiny_overrides(str(tmp), True, 1)
    del overrides["custom_imports"]  # the probe hooks are for training runs
    overrides["model"]["postprocessor"] = dict(topk_per_image=10, instance_matrix_nms_sigma=None)  # 10 queries
    config = write_tiny_config(str(tmp / "tiny.py"), M2F, overrides)
    torch.manual_seed(0)
    torch.save({"state_dict": build_model(load_config(config)).state_dict()}, tmp / "tiny.pth")
    return config, str(tmp / "tiny.pth")


def test_same_named_images_of_two_folders_keep_both_results(model_files, tmp_path):
    save(tmp_path / "in/a/img.jpg", 40, 56, 0)
    save(tmp_path / "in/b/img.jpg", 40, 56, 1, orientation=6)  # shown 56 x 40
    assert infer.main([*model_files, str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 0
    sem_a = np.asarray(Image.open(tmp_path / "out/a/img_sem_seg.png"))
    sem_b = np.asarray(Image.open(tmp_path / "out/b/img_sem_seg.png"))
    assert sem_a.shape == (40, 56) and sem_b.shape == (56, 40)  # at the upright size of each image
    for name in ("a", "b"):
        assert {p.name for p in (tmp_path / f"out/{name}").iterdir()} >= {
            "img.json", "img_sem_seg.png", "img_semantic.png", "img_pan_seg.png", "img_panoptic.png"}


def test_a_broken_image_stops_the_run_or_is_skipped_and_counted(model_files, tmp_path, capsys):
    good = save(tmp_path / "in/good.jpg", 32, 32, 0)
    data = good.read_bytes()
    (tmp_path / "in/cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cannot decode image file .*cut\.jpg"):
        infer.main([*model_files, str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    code = infer.main([*model_files, str(tmp_path / "in"), "--out", str(tmp_path / "out2"), "--skip-bad-images"])
    assert code == 1
    assert "skipped 1 of 2 images" in capsys.readouterr().err
    assert (tmp_path / "out2/good_sem_seg.png").is_file() and not list((tmp_path / "out2").glob("cut*"))
