"""One metrics writer (TensorBoard scalars + JSONL), throughput/MFU, and a matmul FLOP/s probe.

Only process 0 writes. JSONL lines look like {"step": 10, "train/loss": 2.3, ...}. A run that
resumes from step S first drops the rows after S (written before a crash or kill, and about to
be re-run), so every step appears once; TensorBoard is told the same with `purge_step`.
"""

import json
import math
import pathlib
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gato.rundir import RunDir


class MetricsWriter:
    """Writes scalars to WORKDIR/tensorboard (tensorboardX) and WORKDIR/metrics.jsonl.

    resume_step: the step the run starts from; rows of later steps are removed first (None or
    0 with no earlier rows: nothing to remove).
    """

    def __init__(self, workdir: str | pathlib.Path | RunDir, enabled: bool | None = None,
                 resume_step: int | None = None):
        self.enabled = jax.process_index() == 0 if enabled is None else enabled
        self.rundir = RunDir(workdir)
        self._tb = None
        self._jsonl = None
        if self.enabled:
            from tensorboardX import SummaryWriter

            self.rundir.root.mkdir(parents=True, exist_ok=True)
            path = self.rundir.metrics
            if resume_step is not None:
                truncate_jsonl(path, resume_step)
            purge = None if resume_step is None else resume_step + 1
            self._tb = SummaryWriter(str(self.rundir.tensorboard), purge_step=purge)
            self._jsonl = open(path, "a")  # noqa: SIM115

    def write(self, step: int, scalars: dict[str, Any]) -> None:
        """Writes every scalar at `step`; values are converted to Python floats."""
        if not self.enabled:
            return
        values = {k: float(v) for k, v in scalars.items()}
        for key, value in values.items():
            self._tb.add_scalar(key, value, step)
        self._jsonl.write(json.dumps({"step": int(step), **values}) + "\n")
        self._jsonl.flush()

    def close(self) -> None:
        if self.enabled:
            self._tb.close()
            self._jsonl.close()


def drop_empty_losses(values: dict[str, float], prefix: str = "train/") -> dict[str, float]:
    """`values` without each `{prefix}loss/NAME` whose `{prefix}targets/NAME` count is 0: a batch
    without targets of a modality has no loss for it (the step reports 0.0, which would read as
    a perfect loss in the logs)."""
    empty = {k[len(f"{prefix}targets/"):] for k, v in values.items()
             if k.startswith(f"{prefix}targets/") and v == 0}
    return {k: v for k, v in values.items()
            if not (k.startswith(f"{prefix}loss/") and k[len(f"{prefix}loss/"):] in empty)}


def truncate_jsonl(path: pathlib.Path, last_step: int) -> int:
    """Keeps the rows of steps <= last_step (and drops a torn last line); returns rows dropped.

    Rewrites the file atomically (a temporary file renamed over it), only when something goes.
    """
    if not path.exists():
        return 0
    kept, dropped = [], 0
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a kill
            dropped += 1
            continue
        if isinstance(row, dict) and int(row.get("step", 0)) > last_step:
            dropped += 1
        else:
            kept.append(line)
    if dropped:
        partial = path.with_suffix(".jsonl.tmp")
        partial.write_text("".join(f"{line}\n" for line in kept))
        partial.replace(path)
    return dropped


def read_jsonl(path: str | pathlib.Path) -> list[dict[str, float]]:
    """Reads a metrics.jsonl file back as a list of dicts."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def measure_matmul_flops(size: int = 1024, repeats: int = 5,
                         dtype: Any = jnp.float32) -> float:
    """Measured dense matmul rate of one local device in FLOP/s (best of `repeats`).

    A [size, size] @ [size, size] product is 2 * size^3 FLOPs. Used as the MFU denominator when
    no peak is configured: on CPU there is no spec-sheet peak, so the machine's own rate is the
    honest reference.
    """
    device = jax.local_devices()[0]
    x = jax.device_put(jnp.ones((size, size), dtype), device)
    matmul = jax.jit(lambda a: a @ a)
    matmul(x).block_until_ready()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(x).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best


def throughput(tokens: int, seconds: float, flops_per_token: float,
               peak_flops: float) -> dict[str, float]:
    """train/tokens_per_s and train/mfu (model FLOPs / (elapsed * total peak FLOP/s))."""
    tokens_per_s = tokens / max(seconds, 1e-9)
    return {"train/tokens_per_s": tokens_per_s,
            "train/mfu": tokens_per_s * flops_per_token / peak_flops}


_COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
                   "/jax/core/compile/jaxpr_to_mlir_module_duration",
                   "/jax/core/compile/backend_compile_duration")
_compiles = {"count": 0, "seconds": 0.0}  # this process's XLA compilations so far


def _on_compile_event(event: str, duration: float, **_: Any) -> None:
    if event in _COMPILE_EVENTS:
        _compiles["seconds"] += duration
        _compiles["count"] += event == _COMPILE_EVENTS[-1]


class CompileCounter:
    """XLA compilations of this process since the counter was made, from `jax.monitoring`'s
    compile events: `totals()` -> {"perf/compiles": count, "perf/compile_s": seconds of
    tracing, lowering and compiling}. Every jit in the process counts (the train step once per
    bucketed batch shape, and anything else compiled meanwhile)."""

    _registered = False

    def __init__(self):
        if not CompileCounter._registered:
            jax.monitoring.register_event_duration_secs_listener(_on_compile_event)
            CompileCounter._registered = True
        self._start = dict(_compiles)

    def totals(self) -> dict[str, float]:
        return {"perf/compiles": float(_compiles["count"] - self._start["count"]),
                "perf/compile_s": _compiles["seconds"] - self._start["seconds"]}


def is_finite(metrics: dict[str, Any], keys: tuple[str, ...]) -> bool:
    return all(np.isfinite(float(metrics[k])) for k in keys if k in metrics)
