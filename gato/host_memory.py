"""Host memory: let XLA on CPU reuse its heap instead of mapping fresh pages every step.

XLA:CPU allocates each execution's temporary buffer (~0.5 GB per train step of the main job)
with glibc malloc, on its worker threads. glibc serves a block that large with a fresh `mmap`
(a thread's arena cannot grow past 64 MB, and the main arena maps anything above its threshold)
and unmaps it on free, so every step faults ~120k new zeroed pages in. Measured on the main job
(2026-12-02, docs/EXPERIMENTS.md): 123k minor page faults per step, ~20% of its CPU time in the
kernel. With one arena, no mmap'd blocks and no trimming, the next step reuses the freed block:
~280 faults per step, 0.7% of CPU time in the kernel.

`configure()` sets that through `mallopt` and must run before JAX starts its threads; the `gato`
command calls it first. GATO_MALLOC=default leaves glibc's settings alone. Elsewhere than glibc
(macOS, musl) it does nothing.

Compiled programs: XLA:CPU keeps each compiled program's code in memory mappings of its own,
~2k for a tiny model's train step and ~20k for the main job's programs, until JAX's caches drop
it. A process that trains and evaluates many models (`gato scaling`, `gato transfer`, sweeps)
reaches Linux's per-process limit (vm.max_map_count, 65530 by default) and the next compile
fails ("LLVM compilation error: Cannot allocate memory"; seen 2026-12-07 in the scaling preset's
4th size). `release_compiled()`, called before each run and evaluation, drops the caches once
the mappings pass a share of the limit.
"""

import ctypes
import ctypes.util
import gc
import logging
import os
import pathlib

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX, M_ARENA_MAX = -1, -2, -4, -8
SETTINGS = (
    (M_ARENA_MAX, 1),  # one arena: it grows with brk, where freed blocks are reused
    (M_MMAP_MAX, 0),  # no block of its own mapping: large blocks come from the heap too
    (M_TRIM_THRESHOLD, 2**31 - 1),  # keep freed memory for the next step (2 GiB before trimming)
    (M_TOP_PAD, 64 << 20),  # grow the heap 64 MiB at a time
)


def configure() -> bool:
    """Applies SETTINGS to this process's glibc malloc; True if it did (see the module doc)."""
    if os.environ.get("GATO_MALLOC", "").lower() == "default":
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 -- only glibc has it (and mallopt's meaning)
    except (OSError, AttributeError, TypeError):
        return False
    ok = all(libc.mallopt(param, value) == 1 for param, value in SETTINGS)
    if not ok:
        logging.getLogger(__name__).warning("glibc mallopt refused a setting; malloc unchanged")
    return ok


def mappings() -> int | None:
    """This process's memory mappings (lines of /proc/self/maps); None where there is none."""
    try:
        with open("/proc/self/maps", "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return None


def mapping_limit() -> int | None:
    """Linux's per-process limit on memory mappings (vm.max_map_count), else None."""
    try:
        return int(pathlib.Path("/proc/sys/vm/max_map_count").read_text())
    except (OSError, ValueError):
        return None


def release_compiled(share: float = 0.4) -> bool:
    """Drops JAX's compiled programs (`jax.clear_caches`) when this process holds more than
    `share` of the mapping limit, so that the next compile has room; True if it did. Programs
    still in use are compiled again on their next call."""
    count, limit = mappings(), mapping_limit()
    if count is None or limit is None or count <= share * limit:
        return False
    import jax

    jax.clear_caches()
    gc.collect()
    logging.getLogger(__name__).info("compiled programs released: %d of %d memory mappings "
                                     "in use, %s after", count, limit, mappings())
    return True
