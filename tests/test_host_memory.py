"""gato.host_memory: XLA's large per-call temporaries reuse the heap instead of fresh pages."""

import subprocess
import sys

import pytest

PROBE = """
import resource, sys
from gato import host_memory
configured = host_memory.configure()
import jax, jax.numpy as jnp

@jax.jit
def f(x):
    y = jnp.tanh(x @ x.T)  # [4096, 4096] float32: a 64 MiB temporary per call
    return (y @ x).sum()

x = jnp.full((4096, 32), 0.01, jnp.float32)
for _ in range(3):
    f(x).block_until_ready()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    f(x).block_until_ready()
print(configured, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def faults_per_call(subprocess_env, malloc: str) -> tuple[bool, float]:
    out = subprocess.run([sys.executable, "-c", PROBE], env=subprocess_env | {
        "GATO_MALLOC": malloc}, check=True, capture_output=True, text=True).stdout.split()
    return out[-2] == "True", float(out[-1])


def test_large_temporaries_stop_faulting_in_fresh_pages(subprocess_env):
    configured, tuned = faults_per_call(subprocess_env, "")
    if not configured:
        pytest.skip("not glibc: gato.host_memory does nothing here")
    untouched, default = faults_per_call(subprocess_env, "default")
    assert not untouched
    assert default > 8000  # 64 MiB of 4 KiB pages mapped afresh each call (16384)
    assert tuned < default / 100


def test_compiled_programs_released_past_the_share_of_the_mapping_limit(monkeypatch):
    """Past `share` of vm.max_map_count JAX's caches are dropped (a jitted function compiles
    again); below it nothing is touched."""
    import jax
    import jax.numpy as jnp

    from gato import host_memory

    if host_memory.mappings() is None or host_memory.mapping_limit() is None:
        pytest.skip("no /proc mapping counts on this platform")
    f = jax.jit(lambda x: x * 2)
    f(jnp.ones(3))
    assert f._cache_size() == 1
    assert not host_memory.release_compiled(share=1.0)
    assert f._cache_size() == 1
    monkeypatch.setattr(host_memory, "mapping_limit", lambda: 10)
    assert host_memory.release_compiled(share=0.5)
    assert f._cache_size() == 0
