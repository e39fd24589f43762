#!/usr/bin/env bash
# The quick start, from a fresh clone: environment, toy data, training, evaluation of the three tasks
# (PQ / mIoU / mask AP) and prediction overlays on a 2-core CPU (status and numbers: docs/quickstart.md).
#
# Usage: bash tools/quickstart.sh [WORK_DIR]        (default work_dirs/quickstart)
#        CONFIG=configs/quickstart/maskformer_...py bash tools/quickstart.sh work_dirs/quickstart_maskformer
#        DEVICE=cuda bash tools/quickstart.sh   one process on the GPU with both processes' images per
#                                               iteration; by default (DEVICE=cpu) CUDA is hidden
#        PYTHON=python3 bash tools/quickstart.sh   an existing environment: no ./.venv set-up
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-configs/quickstart/mask2former_r18-tiny_2xb2-570s_toy-panoptic.py}
WORK_DIR=${1:-work_dirs/quickstart}
PY=${PYTHON:-.venv/bin/python}
START=$(date +%s)
stamp() { echo "[quickstart] $1 ($(( $(date +%s) - START )) s)"; }

if [ -z "${PYTHON:-}" ]; then bash tools/setup_env.sh; fi
stamp "environment ready"
case "${DEVICE:-cpu}" in
  cuda)  # the config's batch is per process, for two processes
    PER_PROC=$($PY -c "from mmengine.config import Config; print(Config.fromfile('$CONFIG').train_dataloader.batch_size)")
    NPROC=1; TRAIN_OPTS=(train_dataloader.batch_size=$(( 2 * PER_PROC )) model_wrapper_cfg.type=MMDistributedDataParallel);;
  cpu) export CUDA_VISIBLE_DEVICES=""; TRAIN_OPTS=();;
  *) echo "DEVICE must be cpu or cuda, got '$DEVICE'" >&2; exit 2;;
esac
# 300 validation images (the generator's default is 50): about 1200 things, so that the metrics vary
# little with which scenes happen to be drawn
$PY tools/make_toy_dataset.py data/toy --num-train 1000 --num-val 300
stamp "toy data written to data/toy"

# Two training processes of one thread each (NPROC=1 for one): both cores, no OpenMP contention.
# Validation is left to tools/test.py below, so the evaluation runs once.
PYTHON=$PY bash tools/dist_train.sh "$CONFIG" "${NPROC:-2}" --work-dir "$WORK_DIR" \
  --cfg-options val_cfg=None val_dataloader=None val_evaluator=None "${TRAIN_OPTS[@]}"
CKPT=$(cat "$WORK_DIR/last_checkpoint")
stamp "trained: $CKPT"

$PY tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" > "$WORK_DIR/test.log" 2>&1 \
  || { tail -40 "$WORK_DIR/test.log"; exit 1; }
grep -oE "(panoptic_seg/PQ|sem_seg/mIoU|segm/AP): [0-9.]+" "$WORK_DIR/test.log" | tail -n 3
stamp "evaluated (full log: $WORK_DIR/test.log)"

# a glob, not `ls | head`: under pipefail, head closing the pipe early can fail the script silently
IMAGES=(data/toy/coco/val2017/*.jpg)
$PY tools/infer.py "$CONFIG" "$CKPT" "${IMAGES[@]:0:4}" --out "$WORK_DIR/vis"
stamp "overlays written to $WORK_DIR/vis"
