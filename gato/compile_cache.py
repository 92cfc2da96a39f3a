"""JAX's persistent compilation cache: a program compiled once (same computation, shapes,
options, jax and XLA versions, device) is read from disk the next time instead of compiled.

A study compiles the same train, held-out and decode programs in every run it makes
(`gato transfer`: ~200 fine-tuning runs of two models; `gato sweep`, `gato scaling`), and again
after `gato.host_memory.release_compiled()` drops JAX's in-memory caches. Measured on the 2-core
VM beside a training run (2026-12-07, docs/EXPERIMENTS.md "Compiling once"): the transfer
study's test (tests/test_transfer.py, two calls) took 90 s without the cache, 70 s with an
empty one and 39 s with a warm one.

GATO_COMPILATION_CACHE=DIR moves it (default ~/.cache/gato/jax), =off leaves JAX's setting
alone; JAX's own JAX_COMPILATION_CACHE_DIR, when set, wins. Entries past MAX_BYTES are evicted,
least recently used first. Programs that compile in under a second are not written (JAX's
default threshold).
"""

import os
import pathlib

DEFAULT_DIR = pathlib.Path("~/.cache/gato/jax")
MAX_BYTES = 4 << 30  # 4 GiB


def directory() -> pathlib.Path | None:
    """Where the cache goes for this process, or None when it is off or JAX's variable rules."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return None
    setting = os.environ.get("GATO_COMPILATION_CACHE", "").strip()
    if setting.lower() in ("off", "0", "false", "none"):
        return None
    return pathlib.Path(setting or DEFAULT_DIR).expanduser()


def configure() -> pathlib.Path | None:
    """Turns the cache on at `directory()` through JAX's environment variables, so it must run
    before JAX is imported (the `gato` command calls it first); returns the directory, or None
    when JAX's own setting stays."""
    path = directory()
    if path is None:
        return None
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(path)
    os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(MAX_BYTES))
    return path
