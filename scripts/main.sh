#!/usr/bin/env bash
# Sets up the project (scripts/setup.sh) and runs the main job on the built-in default data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MUJOCO_GL="${MUJOCO_GL:-osmesa}" PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-osmesa}"
exec .venv/bin/gato main "$@"
