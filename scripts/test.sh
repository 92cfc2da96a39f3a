#!/usr/bin/env bash
# Sets up the project (scripts/setup.sh) and runs the whole test suite plus the linter.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MUJOCO_GL="${MUJOCO_GL:-osmesa}" PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-osmesa}"
.venv/bin/ruff check gato tests benchmarks experiments datasets tokenizers
.venv/bin/python -m pytest "$@"
