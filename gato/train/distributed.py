"""Multi-host start-up: jax.distributed.initialize from flags or environment variables.

Flags win over the environment. Environment variables: GATO_COORDINATOR_ADDRESS (host:port),
GATO_NUM_PROCESSES, GATO_PROCESS_ID, and JAX's own JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES /
JAX_PROCESS_ID. With no coordinator and one process this is a no-op (single-host run); on
clusters that JAX auto-detects (SLURM, TPU pods, Open MPI) set GATO_AUTO_DISTRIBUTED=1 to let
jax.distributed.initialize() discover everything.
"""

import os

import jax

_ENV = {
    "coordinator": ("GATO_COORDINATOR_ADDRESS", "JAX_COORDINATOR_ADDRESS"),
    "num_processes": ("GATO_NUM_PROCESSES", "JAX_NUM_PROCESSES"),
    "process_id": ("GATO_PROCESS_ID", "JAX_PROCESS_ID"),
}


def _env(name: str) -> str | None:
    for var in _ENV[name]:
        if os.environ.get(var):
            return os.environ[var]
    return None


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> bool:
    """Joins the multi-process runtime if configured; returns True if it did."""
    coordinator = coordinator or _env("coordinator")
    num = num_processes if num_processes is not None else _env("num_processes")
    pid = process_id if process_id is not None else _env("process_id")
    if os.environ.get("GATO_AUTO_DISTRIBUTED") == "1" and coordinator is None:
        jax.distributed.initialize()
        return True
    if coordinator is None and (num is None or int(num) == 1):
        return False
    if coordinator is None or num is None or pid is None:
        raise ValueError("multi-process training needs a coordinator address, a process count "
                         f"and a process id; got coordinator={coordinator!r}, "
                         f"num_processes={num!r}, process_id={pid!r}")
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=int(num),
                               process_id=int(pid))
    return True
