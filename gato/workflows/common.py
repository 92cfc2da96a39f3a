"""What every workflow shares: arguments, start-up, generation and evaluating a checkpoint.

    def add_arguments(parser):
        common.add_run_arguments(parser, config="gato_cpu", workdir="runs/main")
    def run(args):
        config = common.start(args)             # loaded, overridden, validated, evaluators known
        common.record(config, data_dir)         # the generate section, resumable
        common.evaluate(config, train_dir)      # the final checkpoint, with its compatibility check

Start-up sets MUJOCO_GL (software rendering for the Control Suite's GIFs), logging, and imports
the modules that register the in-training evaluator types (rollout, offline, text).
"""

import argparse
import json
import logging
import os
import pathlib
import time
from collections.abc import Callable
from typing import Any

import ml_collections


def add_run_arguments(parser: argparse.ArgumentParser, *, config: str | None,
                      workdir: str | None) -> None:
    """--config, --workdir and --set (required where no default is given)."""
    parser.add_argument("--config", default=config, required=config is None,
                        help="experiment config, NAME or path.py[:variant]"
                        + (" (default: %(default)s)" if config else ""))
    parser.add_argument("--workdir", default=workdir, required=workdir is None,
                        help="data, checkpoints, metrics and reports"
                        + (" (default: %(default)s)" if workdir else ""))
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config key, e.g. train.seed=1")


def start(args: argparse.Namespace, level: int = logging.WARNING) -> ml_collections.ConfigDict:
    """The run's config (loaded, `--set` applied, validated before any work)."""
    os.environ.setdefault("MUJOCO_GL", "osmesa")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from gato.config import apply_overrides, load_config
    from gato.errors import ConfigError
    from gato.eval import register_evaluators
    from gato.eval.config import validate as validate_eval
    from gato.train.validate import validate_config

    config = apply_overrides(load_config(args.config), args.overrides)
    validate_config(config)
    try:
        validate_eval(config.eval)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    register_evaluators()
    return config


def run_command(args: argparse.Namespace, check: Callable[[ml_collections.ConfigDict], Any],
                study: Callable[[ml_collections.ConfigDict, pathlib.Path], Any]) -> int:
    """A study command's run: start-up, `check(config)` before anything is written, the
    workdir made, then `study(config, workdir)`; exit status 0."""
    config = start(args)
    check(config)
    workdir = pathlib.Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    study(config, workdir)
    return 0


def banner(text: str) -> None:
    print(f"\n=== {text} {'=' * max(0, 90 - len(text))}", flush=True)


def data_dir(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> pathlib.Path:
    """data.data_dir, else WORKDIR/data (absolute), written back into the config."""
    path = pathlib.Path(config.data.data_dir or workdir / "data").resolve()
    config.data.data_dir = str(path)
    return path


def record(config: ml_collections.ConfigDict, directory: pathlib.Path) -> dict[str, dict]:
    """Records the config's generate section into `directory` (resumable); reports by task."""
    from gato.data.recording.plan import record as record_section

    return record_section(config.generate, directory)


def eval_config(config: ml_collections.ConfigDict, **changes: Any) -> ml_collections.ConfigDict:
    """The config's eval settings (`gato.eval.config.run_settings`) with `changes`."""
    from gato.eval.config import run_settings

    return run_settings(config, changes)


def evaluate(config: ml_collections.ConfigDict, train_dir: pathlib.Path, *,
             out: pathlib.Path | None = None, step: int | None = None, **changes: Any) -> dict:
    """Evaluates checkpoint `step` (default: the newest) of `train_dir` under
    `eval_config(config, **changes)`, after checking it fits the tasks; a finished evaluation
    with the same settings is reused."""
    from gato.eval import evaluator

    settings = eval_config(config, **changes)
    return evaluator.evaluate_checkpoint(train_dir, lambda _: settings, out=out, step=step,
                                         reuse=True)


def step_seconds(train_dir: pathlib.Path, tokens_per_step: int) -> float | None:
    """The median seconds per step of a run, from its metrics' tokens per second."""
    from gato.rundir import RunDir
    from gato.train.metrics import read_jsonl

    path = RunDir(train_dir).metrics
    rates = sorted(r["train/tokens_per_s"] for r in (read_jsonl(path) if path.is_file() else [])
                   if r.get("train/tokens_per_s"))
    return tokens_per_step / rates[len(rates) // 2] if rates else None


class StudyClock:
    """Wall-clock seconds a resumable study has spent over all its calls, kept in
    WORKDIR/clock.json and saved after each finished unit of work (`save`): a call cut short
    loses at most the time of the unit it was in; a unit reused from disk adds ~nothing."""

    def __init__(self, workdir: pathlib.Path):
        self.path = pathlib.Path(workdir) / "clock.json"
        saved = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.before = float(saved.get("seconds", 0.0))
        self.calls = int(saved.get("calls", 0)) + 1
        self.started = time.perf_counter()

    def this_call(self) -> float:
        """Seconds since this call started."""
        return time.perf_counter() - self.started

    def seconds(self) -> float:
        """Seconds over every call so far, this one included."""
        return self.before + self.this_call()

    def save(self) -> None:
        self.path.write_text(json.dumps({"seconds": round(self.seconds(), 1),
                                         "calls": self.calls}) + "\n")

    def summary(self) -> str:
        """e.g. "the study has taken 241.3 min over 2 calls (this call 120.0 min)"."""
        this_call = self.this_call()
        return (f"the study has taken {(self.before + this_call) / 60:.1f} min over "
                f"{self.calls} call{'s' if self.calls > 1 else ''} (this call "
                f"{this_call / 60:.1f} min)")


def numbers(text: str, kind: type = int) -> list:
    """[1, 5, 10] from "1,5,10" (a config key whose rule has checked the form)."""
    return [kind(float(x)) if kind is int else kind(x) for x in text.split(",") if x.strip()]


def names(text: str) -> list[str]:
    """["a", "b"] from "a, b,"."""
    return [n.strip() for n in text.split(",") if n.strip()]
