"""Test helpers for the trainer (kept in the package: tests run with --import-mode=importlib).

Tiny configs, metrics readers, subprocess runners with N host-platform CPU devices, and two
in-training evaluator drills ("sleep", "sigterm") for kill and preemption tests.
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import ml_collections

from gato.rundir import RunDir
from gato.train import evaluators

REPO = pathlib.Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "experiments" / "synthetic_tiny.py"


def tiny_config(*overrides: str, variant: str = "") -> ml_collections.ConfigDict:
    """experiments/synthetic_tiny.py[:variant] with `key=value` overrides applied."""
    from gato.config import apply_overrides, load_config

    spec = f"{TINY_CONFIG}:{variant}" if variant else str(TINY_CONFIG)
    return apply_overrides(load_config(spec), overrides)


def losses(workdir: str | pathlib.Path, key: str = "train/loss") -> dict[int, float]:
    """{step: value} from WORKDIR/metrics.jsonl; a later line for a step wins (resumed runs)."""
    from gato.train.metrics import read_jsonl

    return {int(r["step"]): r[key] for r in read_jsonl(RunDir(workdir).metrics) if key in r}


def mesh_losses(cases: dict[str, dict[str, Any]], overrides: Sequence[str],
                root: str) -> dict[str, dict[int, float]]:
    """Trains the tiny config once per case ({"num_devices": n, "axes": [...]}); its losses."""
    from gato.train.loop import train_and_evaluate

    out = {}
    for name, case in cases.items():
        config = tiny_config(*overrides)
        config.mesh.num_devices = case["num_devices"]
        config.mesh.axes = case["axes"]
        train_and_evaluate(config, pathlib.Path(root) / name)
        out[name] = losses(pathlib.Path(root) / name)
    return out


def device_env(num_devices: int, **extra: str) -> dict[str, str]:
    """Environment for a subprocess with `num_devices` host-platform CPU devices."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={num_devices}"
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_python(code: str, num_devices: int, timeout: float = 300) -> str:
    """Runs `code` in a fresh interpreter with `num_devices` CPU devices; returns stdout."""
    proc = subprocess.run([sys.executable, "-c", code], env=device_env(num_devices), cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode:
        raise RuntimeError(f"subprocess failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout


def gato_train(args: Sequence[str], num_devices: int = 1, **popen: Any) -> subprocess.Popen:
    """Starts `python -m gato.cli train ARGS` in a subprocess."""
    return subprocess.Popen([sys.executable, "-m", "gato.cli", "train", *args],
                            env=device_env(num_devices), cwd=REPO, text=True, **popen)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def last_json_line(text: str) -> dict[str, Any]:
    """The last line of `text` that parses as a JSON object."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError(f"no JSON line in output:\n{text[-2000:]}")


def read_jsonl(path: str | pathlib.Path) -> list[dict[str, Any]]:
    from gato.train.metrics import read_jsonl as read

    return read(path)


def leaves(tree: Any) -> list[Any]:
    import jax

    return jax.tree.leaves(tree)


@evaluators.register("sleep")
class SleepEvaluator:
    """Test drill: sleeps `options["seconds"]` (default 1) per run, so a test can kill the run."""

    def __init__(self, config: Any, options: Mapping[str, Any], workdir: pathlib.Path):
        del config, workdir
        self.seconds = float(options.get("seconds", 1.0))

    def run(self, params: Any, step: int) -> dict[str, float]:
        del params, step
        time.sleep(self.seconds)
        return {}


@evaluators.register("sigterm")
class SigtermEvaluator:
    """Test drill: sends this process SIGTERM the first time it runs (preemption)."""

    def __init__(self, config: Any, options: Mapping[str, Any], workdir: pathlib.Path):
        del config, options, workdir
        self.signalled_at: int | None = None

    def run(self, params: Any, step: int) -> dict[str, float]:
        del params
        if self.signalled_at is None:
            self.signalled_at = step
            os.kill(os.getpid(), signal.SIGTERM)
        return {}
