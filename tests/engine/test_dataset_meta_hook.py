"""The dataset's metadata reaches the model by one route: ``DatasetMetaHook``, listed in the config's
``default_hooks``; a model whose ``num_classes`` disagrees with the dataset refuses to start."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from mmengine.config import Config
from toy_train_probes import M2F, make_toy_data, tiny_overrides, write_tiny_config

from segformers.apis.runner import build_runner
from segformers.engine import DatasetMetaHook
from segformers.registry import POSTPROCESSORS

TOY_IS_THING = (False, False, False, False, True, True, True, True)  # configs/quickstart metainfo


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory) -> str:
    return make_toy_data(str(tmp_path_factory.mktemp("toy")), num_train=2, num_val=1)


def tiny_cfg(toy_root: str, tmp_path, name: str, **options) -> Config:  # noqa: ANN001
    cfg = Config.fromfile(write_tiny_config(str(tmp_path / "tiny.py"), M2F, tiny_overrides(toy_root, True, 2)))
    cfg.merge_from_dict(dict(work_dir=str(tmp_path / "work"), experiment_name=name, visualizer=dict(name=name),
                             **options))
    return cfg


def test_the_hook_is_a_default_hook_of_the_config_and_nothing_is_appended(toy_root, tmp_path):
    cfg = tiny_cfg(toy_root, tmp_path, "meta_hook_listed", custom_hooks=[])
    assert cfg.default_hooks.dataset_meta == dict(type="DatasetMetaHook")
    runner = build_runner(cfg)
    assert cfg.custom_hooks == []  # build_runner adds nothing
    assert [type(h).__name__ for h in runner.hooks].count("DatasetMetaHook") == 1


def test_a_run_whose_num_classes_disagrees_with_the_dataset_refuses_to_start(toy_root, tmp_path):
    cfg = tiny_cfg(toy_root, tmp_path, "meta_hook_mismatch", **{"model.num_classes": 5})
    runner = build_runner(cfg)
    with pytest.raises(ValueError, match=r"num_classes=5, but its dataset has 8 classes.*model\.num_classes=8"):
        runner.train()
    assert runner.iter == 0  # refused before the first iteration


def _runner(model, is_thing, loader: str = "val_dataloader"):  # noqa: ANN001, ANN202
    dataset = SimpleNamespace(metainfo=dict(classes=[f"c{i}" for i in range(len(is_thing))], is_thing=is_thing))
    return SimpleNamespace(model=model, **{loader: SimpleNamespace(dataset=dataset)})


def test_the_hook_gives_the_postprocessor_the_thing_classes_of_each_loop_dataset():
    from segformers.models import MaskFormer

    post = POSTPROCESSORS.build(dict(type="MaskFormerInference", panoptic_on=True))
    model = SimpleNamespace(num_classes=8, postprocessor=post)
    model.set_dataset_meta = lambda meta: MaskFormer.set_dataset_meta(model, meta)
    hook = DatasetMetaHook()
    hook.before_test(_runner(model, TOY_IS_THING, "test_dataloader"))
    assert post.thing_ids == [4, 5, 6, 7]
    explicit = POSTPROCESSORS.build(dict(type="MaskFormerInference", panoptic_on=True, thing_ids=[7]))
    model.postprocessor = explicit
    hook.before_val(_runner(model, TOY_IS_THING))
    assert explicit.thing_ids == [7]  # a config that names them wins
    with pytest.raises(ValueError, match=r"num_classes=8, but its dataset has 3 classes"):
        hook.before_train(_runner(model, (True, False, True), "train_dataloader"))
    hook.before_val(SimpleNamespace(model=object(), val_dataloader=None))  # no set_dataset_meta: left alone
