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
exec "$(dirname "$0")/slurm_run.sh" "$PARTITION" "$JOB_NAME" tools/train.py "$CONFIG" --work-dir="$WORK_DIR" \
  --launcher=slurm "$@"
