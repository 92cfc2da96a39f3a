"""`gato finetune`: a pretrained checkpoint fine-tuned on the first N episodes of a task.

    gato finetune --config finetune --checkpoint runs/main/train --workdir runs/ft \\
        [--episodes 10] [--with-optimizer] [--set data.tasks=cartpole-swingup]

1. records the config's generate section (the task's demonstrations) when it has one;
2. trains from the checkpoint's params (its optimizer state too with --with-optimizer, step
   counters reset) on the first finetune.episodes episodes of each task in data.tasks, under
   the config's own optimizer schedule; the task may be absent from pretraining;
3. every finetune.every steps scores held-out action nll on the next finetune.heldout_episodes
   episodes (the "offline" evaluator) and keeps that checkpoint;
4. picks the checkpoint with the lowest held-out nll (never the rollout score), writes
   WORKDIR/train/best.json, and evaluates that checkpoint in the environments.
Bad input (an unknown task, N + held-out beyond the episodes recorded, a checkpoint of another
model) stops before any training with one line, and the workdir is not written.
"""

import argparse
import json
import pathlib
from typing import Any

import ml_collections

from gato.errors import ConfigError
from gato.rundir import RunDir
from gato.workflows import common

HELDOUT = "heldout"  # the metric prefix of the held-out evaluator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_run_arguments(parser, config="finetune", workdir=None)
    parser.add_argument("--checkpoint", help="the pretrained checkpoint (finetune.checkpoint; "
                                             "omit for scratch)")
    parser.add_argument("--episodes", type=int, help="N: the first N episodes of each task")
    parser.add_argument("--with-optimizer", action="store_true",
                        help="load the checkpoint's optimizer state too (counters reset)")


def pretrained(path: str) -> pathlib.Path:
    """A run dir, its checkpoints dir or a step dir as what `init_from` takes (a checkpoints
    dir, or a step dir)."""
    path = pathlib.Path(path)
    return RunDir(path).checkpoints if (path / "checkpoints").is_dir() else path


def check_checkpoint(config: ml_collections.ConfigDict) -> None:
    """ConfigError (one line) unless finetune.checkpoint holds a model of config.model."""
    from gato.train.checkpoint import read_config

    path = pathlib.Path(config.finetune.checkpoint)
    checkpoints = pretrained(str(path))
    saved = read_config(checkpoints.parent if checkpoints.name.isdigit() else checkpoints)
    if saved is None:
        raise ConfigError(f"finetune.checkpoint {str(path)!r} holds no checkpoint (no "
                          f"config.json in {checkpoints})")
    mine = {"name": config.model.name, "overrides": config.model.overrides.to_dict()}
    theirs = saved.get("model") or {}
    if {"name": theirs.get("name"), "overrides": theirs.get("overrides") or {}} != mine:
        raise ConfigError(f"finetune.checkpoint {str(path)!r} is a model {theirs.get('name')!r} "
                          f"with overrides {theirs.get('overrides')}, the config's is "
                          f"{mine['name']!r} with {mine['overrides']}: set model.* to match")


def check_episodes(config: ml_collections.ConfigDict) -> list[str]:
    """The tasks to fine-tune on; ConfigError (one line) for an unknown task or one with fewer
    recorded episodes than finetune.episodes + finetune.heldout_episodes."""
    from gato.data.formats import load_episodes
    from gato.envs import registry

    try:
        tasks = [t.name for t in registry.select(None, config.data.tasks)]
    except (KeyError, ValueError) as e:
        raise ConfigError(f"config key data.tasks: {e.args[0] if e.args else e}") from None
    need = int(config.finetune.episodes) + int(config.finetune.heldout_episodes)
    for task in tasks:
        have = len(load_episodes(task, config.data.data_dir, "train"))
        if have < need:
            raise ConfigError(f"task {task!r} has {have} recorded episodes, fewer than "
                              f"finetune.episodes + finetune.heldout_episodes = {need}")
    return tasks


def finetune_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The training config: the first N episodes, the held-out evaluator, every checkpoint
    kept at its cadence, initialized from the pretrained checkpoint."""
    f = config.finetune
    n, held = int(f.episodes), int(f.heldout_episodes)
    c = ml_collections.ConfigDict(config.to_dict())
    c.data.split = f"train[:{n}]"
    c.evaluators = {**c.evaluators.to_dict(), HELDOUT: {
        "type": "offline", "every": int(f.every),
        "options": {"split": f"train[{n}:{n + held}]", "windows": int(f.windows),
                    "prefix": HELDOUT}}}
    c.train.checkpoint_every = int(f.every)
    c.train.keep_checkpoints = None
    c.checkpoint.init_from = str(pretrained(f.checkpoint)) if f.checkpoint else ""
    c.checkpoint.init_opt_state = bool(f.optimizer_state) and bool(f.checkpoint)
    return c


def heldout_nll_by_step(metrics: list[dict[str, Any]]) -> dict[int, float]:
    """{step: mean over tasks of the held-out evaluator's action nll} from metrics.jsonl rows."""
    from gato.results.curve import mean_over_tasks, offline_curves

    return mean_over_tasks(offline_curves(metrics), f"{HELDOUT}/nll")


def best_step(metrics: list[dict[str, Any]]) -> tuple[int, dict[int, float]]:
    """(the step with the lowest mean held-out action nll over tasks, {step: that mean})."""
    means = heldout_nll_by_step(metrics)
    if not means:
        raise ValueError("no held-out nll was recorded: nothing to choose a checkpoint by")
    return min(means, key=lambda s: (means[s], s)), means


def finetune(config: ml_collections.ConfigDict, train_dir: pathlib.Path) -> dict[str, Any]:
    """Trains finetune_config(config) in train_dir (resuming a partial run) and writes
    train_dir/best.json: the step with the lowest held-out nll and that nll by step. A run
    whose best.json records the same train.total_steps is not trained again."""
    from gato.train import train_and_evaluate
    from gato.train.metrics import read_jsonl

    done = train_dir / "best.json"
    if done.is_file():
        best = json.loads(done.read_text())
        if best.get("total_steps") == int(config.train.total_steps):
            return best
    train_and_evaluate(finetune_config(config), train_dir)
    step, means = best_step(read_jsonl(RunDir(train_dir).metrics))
    best = {"step": step, "heldout_nll": means[step], "heldout_nll_by_step": means,
            "checkpoint": str(RunDir(train_dir).checkpoints / str(step)),
            "pretrained": str(config.finetune.checkpoint), "episodes": config.finetune.episodes,
            "total_steps": int(config.train.total_steps)}
    done.write_text(json.dumps(best, indent=1) + "\n")
    return json.loads(done.read_text())  # step keys as JSON writes them, as a reread gives


def run(args: argparse.Namespace) -> int:
    for flag, key in ((args.checkpoint, "finetune.checkpoint"),
                      (args.episodes, "finetune.episodes")):
        if flag is not None:
            args.overrides.append(f"{key}={flag!r}" if isinstance(flag, str) else f"{key}={flag}")
    if args.with_optimizer:
        args.overrides.append("finetune.optimizer_state=True")
    config = common.start(args)
    workdir = pathlib.Path(args.workdir)
    if config.finetune.checkpoint:
        check_checkpoint(config)
    data_dir = common.data_dir(config, workdir)
    if config.generate.tasks:
        common.banner(f"1/4 demonstrations -> {data_dir}")
        common.record(config, data_dir)
    tasks = check_episodes(config)
    train_dir = workdir / "train"
    common.banner(f"2/4 fine-tuning on {config.finetune.episodes} episodes of {', '.join(tasks)}"
                  f" for {config.train.total_steps} steps -> {train_dir}")
    best = finetune(config, train_dir)
    step = int(best["step"])
    common.banner(f"3/4 best checkpoint by held-out nll: step {step} ({best['heldout_nll']:.3f})")
    common.banner(f"4/4 evaluation of step {step}")
    if config.eval.suites or config.eval.tasks:
        common.evaluate(config, train_dir, step=step)
    return 0
