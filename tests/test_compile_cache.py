"""gato.compile_cache: the `gato` command compiles a program once and reads it back afterwards."""

import os
import subprocess
import sys

from gato import compile_cache

PROBE = """
from gato import compile_cache
print(compile_cache.configure())
import jax, jax.numpy as jnp
jax.jit(lambda x: jnp.tanh(x @ x.T).sum())(jnp.ones((8, 8))).block_until_ready()
"""


def run_probe(subprocess_env, **env: str) -> str:
    env = {k: v for k, v in subprocess_env.items() if k != "JAX_COMPILATION_CACHE_DIR"} | env
    return subprocess.run([sys.executable, "-c", PROBE], env=env | {
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}, check=True, capture_output=True,
        text=True).stdout.strip()


def test_programs_are_written_to_the_chosen_directory(subprocess_env, tmp_path):
    assert run_probe(subprocess_env, GATO_COMPILATION_CACHE=str(tmp_path)) == str(tmp_path)
    assert any(p.name.startswith("jit_") for p in tmp_path.iterdir())


def test_off_writes_nothing(subprocess_env, tmp_path):
    assert run_probe(subprocess_env, GATO_COMPILATION_CACHE="off", HOME=str(tmp_path)) == "None"
    assert not (tmp_path / ".cache").exists()


def test_jax_own_variable_wins_and_the_default_is_under_home(monkeypatch, tmp_path):
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path))
    assert compile_cache.directory() is None
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR")
    monkeypatch.delenv("GATO_COMPILATION_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert compile_cache.directory() == tmp_path / ".cache" / "gato" / "jax"
    assert os.environ.get("JAX_COMPILATION_CACHE_DIR") is None
