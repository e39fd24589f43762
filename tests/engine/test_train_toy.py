"""Training the quick-start models (shrunk) on a tiny toy set: the loss goes down, and an interrupted
run resumed with ``tools/train.py --resume`` repeats the uninterrupted one iteration for iteration."""
from __future__ import annotations

import importlib.util
import json
import os.path as osp
from itertools import count

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from toy_train_probes import M2F, MF, REPO, make_toy_data, tiny_overrides, write_tiny_config

from segformers.apis.runner import build_runner

RUN_IDS = count()


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory) -> str:
    return make_toy_data(str(tmp_path_factory.mktemp("toy")))


def unique_names() -> dict:
    """Own MessageHub / Visualizer instances for each run in this process (mmengine keys them by name)."""
    name = f"train_toy_{next(RUN_IDS)}"
    return dict(experiment_name=name, visualizer=dict(name=name))


class FixedBatchLoss(Hook):
    """The total loss on one fixed batch before and after training (same random points and dropout)."""

    priority = "LOWEST"

    def __init__(self, batch: dict) -> None:
        self.batch = batch
        self.values: list[float] = []

    def _record(self, runner) -> None:  # noqa: ANN001
        state = torch.random.get_rng_state()
        torch.manual_seed(0)
        with torch.no_grad():
            data = runner.model.data_preprocessor(self.batch, True)
            losses = runner.model(**data, mode="loss")
        torch.random.set_rng_state(state)
        self.values.append(float(sum(losses.values())))

    before_train = after_train = _record


@pytest.mark.parametrize("base, mask2former", [(M2F, True), (MF, False)], ids=["mask2former", "maskformer"])
def test_a_few_iterations_lower_the_loss(base, mask2former, toy_root, tmp_path):
    config = write_tiny_config(str(tmp_path / "tiny.py"), base, tiny_overrides(toy_root, mask2former, 12))
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(dict(work_dir=str(tmp_path / "work"), default_hooks=dict(checkpoint=dict(interval=100)),
                             **unique_names()))
    runner = build_runner(cfg)
    dataset = runner.build_dataloader(cfg.train_dataloader).dataset
    probe = FixedBatchLoss(pseudo_collate([dataset[i] for i in range(4)]))
    runner.register_hook(probe)
    runner.train()
    start, end = probe.values
    assert torch.isfinite(torch.tensor(probe.values)).all()
    assert end < 0.95 * start, probe.values  # about -10 % (Mask2Former) and -14 % (MaskFormer)


def load_train_main():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("segformers_tools_train", REPO / "tools" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def train(config: str, work_dir: str, *extra: str) -> dict[int, float]:
    """``tools/train.py`` in this process; returns the recorded ``{iteration: loss}``."""
    names = unique_names()
    load_train_main()([config, "--work-dir", work_dir, *extra, "--cfg-options",
                       f"experiment_name={names['experiment_name']}", f"visualizer.name={names['experiment_name']}"])
    return read_losses(work_dir)


def read_losses(work_dir: str) -> dict[int, float]:
    with open(osp.join(work_dir, "losses_rank0.json")) as f:
        return {int(k): v for k, v in json.load(f).items()}


def test_resume_after_a_crash_repeats_the_uninterrupted_run(toy_root, tmp_path, monkeypatch):
    # on the CPU even where CUDA is available: bitwise repeatable training is a CPU property (the CUDA
    # backward of grid_sample and of bilinear interpolation accumulate with atomics, in any order)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("mmengine.device.utils.DEVICE", "cpu")  # mmengine's get_device(), fixed at import
    iters, crash = 6, 5
    hooks = dict(full=[dict(type="LossRecorderHook")], crash=[dict(type="LossRecorderHook", crash_after=crash)])
    configs = {k: write_tiny_config(str(tmp_path / f"{k}.py"), M2F,
                                    tiny_overrides(toy_root, True, iters, hooks=h))
               for k, h in hooks.items()}
    full = train(configs["full"], str(tmp_path / "full"))
    crashed_dir = str(tmp_path / "crashed")
    with pytest.raises(KeyboardInterrupt):
        train(configs["crash"], crashed_dir)
    before_crash = read_losses(crashed_dir)
    with open(osp.join(crashed_dir, "last_checkpoint")) as f:
        assert f.read().endswith("iter_4.pth")  # iteration 5 is lost with the crash and trained again
    resumed = train(configs["full"], crashed_dir, "--resume")

    assert sorted(full) == list(range(1, iters + 1))
    assert before_crash == {i: full[i] for i in range(1, crash + 1)}
    assert resumed == {i: full[i] for i in range(crash, iters + 1)}  # bitwise equal losses
    final_full = torch.load(osp.join(tmp_path, "full", f"iter_{iters}.pth"), weights_only=True)
    final_resumed = torch.load(osp.join(crashed_dir, f"iter_{iters}.pth"), weights_only=True)
    for name, value in final_full["state_dict"].items():
        assert torch.equal(value, final_resumed["state_dict"][name]), name
    for a, b in zip(final_full["optimizer"]["state"].values(), final_resumed["optimizer"]["state"].values()):
        assert torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])


def test_auto_threads_leave_a_core_per_worker_and_one_spare():
    from segformers.engine.threads import resolve_num_threads

    assert resolve_num_threads("auto", num_workers=0, cores=2) == 1  # 2 threads on a busy 2-core CPU: 15x slower
    assert resolve_num_threads("auto", num_workers=2, cores=2) == 1
    assert resolve_num_threads("auto", num_workers=0, cores=8) == 7
    assert resolve_num_threads("auto", num_workers=2, cores=16, local_procs=2) == 5
    assert resolve_num_threads("auto", num_workers=0, cores=16, current=4) == 4  # never raised
    assert resolve_num_threads(3, num_workers=2, cores=2) == 3 and resolve_num_threads(None, 0, 2) is None
    with pytest.raises(ValueError, match="num_threads"):
        resolve_num_threads(0, num_workers=0, cores=2)
