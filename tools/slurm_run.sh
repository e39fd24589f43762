#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [GRES=gpu:8] [SRUN_ARGS="..."] \
#        tools/slurm_run.sh PARTITION JOB_NAME TOOL [tool args...]
# What tools/slurm_train.sh and slurm_test.sh share: srun starts GPUS tasks of `python -u TOOL ...`,
# GPUS_PER_NODE per node, one GPU each (GRES= on CPU partitions: no --gres), from the repository root.
set -euo pipefail
PARTITION=$1; JOB_NAME=$2; TOOL=$3; shift 3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
GRES=${GRES-gpu:$GPUS_PER_NODE}
SRUN_ARGS=${SRUN_ARGS:-}
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
# SRUN_ARGS and the optional --gres are left unquoted on purpose: zero or several srun options
# shellcheck disable=SC2086
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" exec srun -p "$PARTITION" --job-name="$JOB_NAME" ${GRES:+--gres=$GRES} \
  --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE" --cpus-per-task="$CPUS_PER_TASK" --kill-on-bad-exit=1 \
  $SRUN_ARGS "$PY" -u "$TOOL" "$@"
