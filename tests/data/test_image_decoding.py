"""One image reader for datasets and inference: strict decoding (a truncated file fails naming it, or is
skipped and counted with ``skip_bad_images``) and the EXIF orientation applied in both."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from segformers.apis.inference import _as_rgb_array
from segformers.data.transforms import LoadImageFromFile
from segformers.data.transforms.loading import read_image
from segformers.registry import DATASETS

REPO = Path(__file__).resolve().parents[2]
ORIENTATION = 0x0112


def photo(h: int = 24, w: int = 40) -> np.ndarray:
    """A smooth, asymmetric RGB picture (JPEG keeps it nearly exact)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, np.full_like(x, 90)], -1).astype(np.uint8)


def save_jpeg(path: Path, array: np.ndarray, orientation: int = 1) -> str:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    Image.fromarray(array).save(path, quality=95, exif=exif)
    return str(path)


def opencv_read(path: str) -> np.ndarray:
    """The datasets' former reader (``cv2.imread``, which applies the EXIF orientation)."""
    return cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_exif_orientation_is_applied_by_datasets_and_inference_alike(tmp_path):
    path = save_jpeg(tmp_path / "phone.jpg", photo(), orientation=6)  # "rotate 90 degrees clockwise to view"
    upright = read_image(path)
    assert upright.shape == (40, 24, 3)
    assert np.abs(upright.astype(int) - np.rot90(photo(), k=-1)).max() <= 8  # JPEG rounding only
    assert np.array_equal(upright, opencv_read(path))  # as the datasets read it before
    from_file, _ = _as_rgb_array(path)
    with Image.open(path) as im:
        from_pil, _ = _as_rgb_array(im)
    assert np.array_equal(from_file, upright) and np.array_equal(from_pil, upright)
    results = LoadImageFromFile()(dict(img_path=path))
    assert np.array_equal(results["img"], upright) and results["ori_shape"] == (40, 24)


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "I;16"])
def test_other_modes_read_as_opencv_read_them(tmp_path, mode):
    rgb = photo()
    image = {"L": lambda: Image.fromarray(rgb[..., 0]), "P": lambda: Image.fromarray(rgb).quantize(16),
             "RGBA": lambda: Image.fromarray(np.dstack([rgb, rgb[..., :1]])),
             "I;16": lambda: Image.fromarray(rgb[..., 0].astype(np.uint16) * 257 + 3)}[mode]()
    path = str(tmp_path / "x.png")
    image.save(path)
    assert np.array_equal(read_image(path), opencv_read(path))


@pytest.fixture()
def truncated(tmp_path) -> str:
    good = save_jpeg(tmp_path / "good.jpg", photo(64, 64))
    data = Path(good).read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) * 2 // 3])
    return str(tmp_path / "cut.jpg")


def test_a_truncated_image_fails_naming_the_file(truncated):
    with pytest.raises(ValueError, match=r"cannot decode image file .*cut\.jpg: image file is truncated"):
        read_image(truncated)
    with pytest.raises(ValueError, match=r"cut\.jpg"):
        _as_rgb_array(truncated)


def test_skip_bad_images_drops_the_sample_and_counts_it(truncated, tmp_path):
    load = LoadImageFromFile(skip_bad_images=True)
    assert load(dict(img_path=truncated)) is None and load(dict(img_path=truncated)) is None
    assert load.skipped == [truncated] * 2
    # a training dataset then draws another sample (mmengine's BaseDataset refetch)
    for folder in ("images", "annotations"):
        (tmp_path / folder).mkdir()
    Image.fromarray(photo()).save(tmp_path / "images/a.png")
    (tmp_path / "images/b.png").write_bytes(Path(truncated).read_bytes())
    for name in ("a", "b"):
        Image.fromarray(np.zeros((24, 40), np.uint8)).save(tmp_path / f"annotations/{name}.png")
    pipeline = [dict(type="LoadImageFromFile", skip_bad_images=True), dict(type="LoadSegAnnotations"),
                dict(type="PackSegInputs")]
    dataset = DATASETS.build(dict(type="CustomSemanticDataset", data_root=str(tmp_path), img_suffix=".png",
                                  pipeline=pipeline, metainfo=dict(classes=("a", "b"))))
    names = [Path(dataset.get_data_info(i)["img_path"]).name for i in range(len(dataset))]
    sample = dataset[names.index("b.png")]
    assert Path(sample["data_samples"].metainfo["img_path"]).name == "a.png"


def test_train_skip_bad_images_sets_every_loader_of_the_training_pipeline():
    spec = importlib.util.spec_from_file_location("segformers_tools_train", REPO / "tools" / "train.py")
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    cfg = Config(dict(train_dataloader=dict(dataset=dict(type="ConcatDataset", datasets=[
        dict(pipeline=[dict(type="LoadImageFromFile"), dict(type="PackSegInputs")]),
        dict(pipeline=[dict(type="LoadImageFromFile")])])),
        val_dataloader=dict(dataset=dict(pipeline=[dict(type="LoadImageFromFile")]))))
    assert train.skip_bad_images(cfg) == 2
    loaders = [d.pipeline[0] for d in cfg.train_dataloader.dataset.datasets]
    assert all(step.skip_bad_images for step in loaders)
    assert "skip_bad_images" not in cfg.val_dataloader.dataset.pipeline[0]  # evaluation never skips
    with pytest.raises(ValueError, match="no LoadImageFromFile"):
        train.skip_bad_images(Config(dict(train_dataloader=dict(dataset=dict(pipeline=[])))))
