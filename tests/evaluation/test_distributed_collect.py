"""Two gloo ranks, each processing half of the images, give the single-process metrics."""
import json
import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from segformers.evaluation import PanopticMetric, SemSegMetric


def make_samples():
    from eval_synthetic import NAMES, make_dataset

    g = torch.Generator().manual_seed(0)
    samples = []
    for stem, gm, gs, pm, ps in make_dataset(seed=3, n=5):
        gt = torch.randint(0, 3, (6, 5), generator=g)
        samples.append({"pred": {"sem_seg": torch.rand(3, 6, 5, generator=g), "panoptic_seg": (torch.from_numpy(pm), ps)},
                        "gt_sem_seg": gt, "gt_panoptic": (torch.from_numpy(gm), gs), "img_path": stem})
    return samples, {"classes": NAMES[:3]}, {"classes": NAMES, "thing_classes": ["person", "car"]}


def evaluate(samples, sem_meta, pan_meta):
    metrics = [SemSegMetric(), PanopticMetric()]
    metrics[0].dataset_meta, metrics[1].dataset_meta = sem_meta, pan_meta
    out = {}
    for m in metrics:
        for s in samples:
            m.process({}, [s])
        out.update(m.evaluate(5))
    return out


def worker(rank, init_file, out_file, path):
    import sys

    sys.path.insert(0, path)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    samples, sem_meta, pan_meta = make_samples()
    # mmengine's DefaultSampler order for 2 ranks: rank r gets samples r, r + 2, ... (padded to equal length)
    mine = [samples[i % 5] for i in range(rank, 6, 2)]
    result = evaluate(mine, sem_meta, pan_meta)
    if rank == 0:
        with open(out_file, "w") as f:
            json.dump(result, f)
    dist.destroy_process_group()


def test_two_ranks_equal_one(tmp_path):
    out_file = str(tmp_path / "out.json")
    here = os.path.dirname(__file__)
    mp.start_processes(worker, args=(str(tmp_path / "init"), out_file, here), nprocs=2, start_method="fork")
    with open(out_file) as f:
        distributed = json.load(f)
    single = evaluate(*make_samples())
    assert distributed.keys() == single.keys()
    for k, v in single.items():
        assert abs(distributed[k] - v) < 1e-9, k
