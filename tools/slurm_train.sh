#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [GRES=gpu:8] [SRUN_ARGS="..."] \
#        tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
# srun starts GPUS tasks, GPUS_PER_NODE per node, one GPU each (e.g. GPUS=16 for the Swin-L configs: two
# nodes); tools/train.py --launcher slurm takes each task's rank, world size and local rank from
# SLURM_PROCID, SLURM_NTASKS and SLURM_LOCALID. With GPUs, mmengine makes the first node of SLURM_NODELIST
# the master (MASTER_PORT, default 29500: jobs that share a node need different ports). CPU partitions:
# GRES= (no --gres) trains with gloo, on one node unless MASTER_ADDR names the first node.
set -euo pipefail
PARTITION=$1; JOB_NAME=$2; CONFIG=$3; WORK_DIR=$4; shift 4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
GRES=${GRES-gpu:$GPUS_PER_NODE}
SRUN_ARGS=${SRUN_ARGS:-}
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
# SRUN_ARGS and the optional --gres are left unquoted on purpose: zero or several srun options
# shellcheck disable=SC2086
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" srun -p "$PARTITION" --job-name="$JOB_NAME" ${GRES:+--gres=$GRES} \
  --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE" --cpus-per-task="$CPUS_PER_TASK" --kill-on-bad-exit=1 \
  $SRUN_ARGS "$PY" -u tools/train.py "$CONFIG" --work-dir="$WORK_DIR" --launcher=slurm "$@"
