#!/usr/bin/env bash
# Sets up everything the project needs on a fresh Debian machine, and is safe to run twice:
#   1. the Debian packages listed in apt.txt (skipped when all are installed),
#   2. a virtual environment in .venv with the project and its pinned requirements
#      (skipped when requirements, setup.py and the Python are unchanged since the last install).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3

# --- Debian packages -------------------------------------------------------------------------
mapfile -t APT_PACKAGES < <(grep -v '^\s*#' apt.txt | grep -v '^\s*$')
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "[setup] installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- Python environment ----------------------------------------------------------------------
stamp_value="$(cat requirements.txt requirements-test.txt setup.py | sha256sum | cut -d' ' -f1) $("$PYTHON" --version)"
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.installed 2>/dev/null)" != "$stamp_value" ]; then
  echo "[setup] creating .venv and installing the project"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt -r requirements-test.txt
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$stamp_value" > .venv/.installed
fi
echo "[setup] ready: $(.venv/bin/python --version), gato at $(pwd)"
