#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]   (NNODES / NODE_RANK / MASTER_ADDR for several machines)
set -euo pipefail
CONFIG=$1; NPROC=$2; shift 2
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
exec "$PY" -m torch.distributed.run --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" --nproc_per_node="$NPROC" \
  tools/train.py "$CONFIG" --launcher pytorch "$@"
