#!/usr/bin/env bash
# Sets up the project (scripts/setup.sh) and runs the whole test suite plus the linter.
# The suite runs in GATO_TEST_WORKERS processes (default 2, pytest-xdist; 0: in this process),
# a test file to a process, so a file's module fixtures are built once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MUJOCO_GL="${MUJOCO_GL:-osmesa}" PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-osmesa}"
.venv/bin/ruff check gato tests benchmarks experiments datasets tokenizers
.venv/bin/python -m pytest -n "${GATO_TEST_WORKERS:-2}" --dist loadfile "$@"
