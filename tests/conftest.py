"""Shared test set-up: headless rendering, the repository root, subprocess environments, markers.

Fakes, tiny configs and runners live in the `gato.testing` package (one module per layer), so
tests, benchmarks and subprocesses share them; this file holds only pytest fixtures and hooks.
"""

import atexit
import os
import pathlib
import shutil
import tempfile

import pytest

# MuJoCo renders offscreen with software OpenGL (Debian's libosmesa6, from apt.txt).
os.environ.setdefault("MUJOCO_GL", "osmesa")
os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")

# One compilation cache for the session (gato.compile_cache), set before JAX is imported: tests
# that compile the same tiny programs read them back; nothing is written to ~/.cache.
if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    _CACHE = tempfile.mkdtemp(prefix="gato-test-jax-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> pathlib.Path:
    """The repository root (tests that read its files: setup.py, experiments/, tokenizers/)."""
    return REPO


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for a child `python -m gato.cli ...`: headless GL, this checkout first."""
    env = dict(os.environ, MUJOCO_GL="osmesa", PYOPENGL_PLATFORM="osmesa")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `gpu` are skipped where JAX sees no GPU."""
    del config
    if not any(item.get_closest_marker("gpu") for item in items):
        return
    import jax

    if any(d.platform == "gpu" for d in jax.devices()):
        return
    skip = pytest.mark.skip(reason="needs a GPU")
    for item in items:
        if item.get_closest_marker("gpu"):
            item.add_marker(skip)
