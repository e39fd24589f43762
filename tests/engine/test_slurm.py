"""``tools/slurm_train.sh`` / ``slurm_test.sh`` and ``--launcher slurm``, without a cluster.

A stand-in ``srun`` on ``PATH`` does what srun does for this purpose: it starts ``--ntasks`` copies of the
command, each with the ``SLURM_PROCID`` / ``SLURM_LOCALID`` / ``SLURM_NTASKS`` / ``SLURM_NODELIST`` of its
task, and records its own arguments. No ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` is set, so the two gloo
ranks can only come from the slurm variables.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from test_dist_train import free_port
from toy_train_probes import M2F, REPO, make_toy_data, tiny_overrides, write_tiny_config

FAKE_SRUN = r"""#!/usr/bin/env bash
printf '%s\n' "$@" > "$SRUN_LOG"
ntasks=1
while [ $# -gt 0 ]; do
  case "$1" in
    --ntasks=*) ntasks=${1#--ntasks=}; shift ;;
    -p) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
[ -n "${SRUN_DRY:-}" ] && exit 0
pids=()
for ((i = 0; i < ntasks; i++)); do
  SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NTASKS=$ntasks SLURM_NODELIST=localhost "$@" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
exit $rc
"""


def slurm_env(tmp_path: Path, **extra: str) -> dict:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "srun").write_text(FAKE_SRUN)
    (bin_dir / "srun").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", PYTHON=sys.executable, SRUN_LOG=str(tmp_path / "srun.txt"),
               MASTER_PORT=str(free_port()), OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]), **extra)
    return env


def test_slurm_train_runs_two_ranks_from_the_slurm_variables(tmp_path):
    root = make_toy_data(str(tmp_path / "toy"), num_train=8)
    hooks = [dict(type="NumMasksProbeHook")]
    config = write_tiny_config(str(tmp_path / "tiny.py"), M2F, tiny_overrides(root, True, 2, batch_size=2, hooks=hooks))
    work = tmp_path / "work"
    env = slurm_env(tmp_path, GPUS="2", GPUS_PER_NODE="2", CPUS_PER_TASK="1", GRES="")
    proc = subprocess.run(["bash", str(REPO / "tools/slurm_train.sh"), "cpu", "tiny", config, str(work),
                           "--cfg-options", "randomness.seed=3"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    probes = [json.loads((work / f"num_masks_rank{r}.json").read_text()) for r in range(2)]
    assert [p["world_size"] for p in probes] == [2, 2]  # both ranks exist: 0 and 1, from SLURM_PROCID
    assert probes[0]["checksum"] == probes[1]["checksum"]  # one model, kept in sync by DDP
    srun = (tmp_path / "srun.txt").read_text().split("\n")
    assert srun[:6] == ["-p", "cpu", "--job-name=tiny", "--ntasks=2", "--ntasks-per-node=2", "--cpus-per-task=1"]
    assert srun[7:11] == [sys.executable, "-u", "tools/train.py", config]
    assert srun[11:] == [f"--work-dir={work}", "--launcher=slurm", "--cfg-options", "randomness.seed=3", ""]


def test_slurm_test_hands_srun_the_test_command(tmp_path):
    env = slurm_env(tmp_path, SRUN_DRY="1", SRUN_ARGS="--quotatype=auto --time=60")
    proc = subprocess.run(["bash", str(REPO / "tools/slurm_test.sh"), "gpu", "eval", "a.py", "b.pth", "--tta"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    srun = shlex.join((tmp_path / "srun.txt").read_text().split("\n")[:-1])
    assert srun == ("-p gpu --job-name=eval --gres=gpu:8 --ntasks=8 --ntasks-per-node=8 --cpus-per-task=5 "
                    f"--kill-on-bad-exit=1 --quotatype=auto --time=60 {sys.executable} -u tools/test.py a.py b.pth "
                    "--launcher=slurm --tta")
