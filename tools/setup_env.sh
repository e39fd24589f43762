#!/usr/bin/env bash
# Create ./.venv and install segformers with its runtime and test requirements.
# torch==2.13.0 is installed first so that pip takes the local CPU wheel instead of a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=".venv/bin/python -m pip"
$PIP install --quiet --upgrade pip
$PIP install --quiet torch==2.13.0
$PIP install --quiet -r requirements/runtime.txt -r requirements/tests.txt -r requirements/optional.txt
$PIP install --quiet --no-deps -e .
.venv/bin/python -c "import torch, mmengine, segformers; print('segformers', segformers.__version__, '| torch', torch.__version__, '| mmengine', mmengine.__version__)"
