#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [GRES=gpu:8] [SRUN_ARGS="..."] \
#        tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args, e.g. --tta...]
# As tools/slurm_train.sh: GPUS tasks through srun, ranks from the SLURM_* variables (--launcher slurm).
set -euo pipefail
PARTITION=$1; JOB_NAME=$2; CONFIG=$3; CHECKPOINT=$4; shift 4
exec "$(dirname "$0")/slurm_run.sh" "$PARTITION" "$JOB_NAME" tools/test.py "$CONFIG" "$CHECKPOINT" --launcher=slurm "$@"
