"""`gato sweep`: one config over several seeds: train each, evaluate each, aggregate them.

    gato sweep --config gato_cpu --seeds 0,1,2 --workdir runs/seeds
    gato sweep --config gato_cpu:quick --seeds 0,1 --workdir /tmp/sweep \\
        --set eval.max_steps=0 --set eval.normalize=True

Layout under WORKDIR:
    data/          expert data, made once (as `gato main` does) when the config has a
                   `generate` section and no data.data_dir; every seed trains on the same data
    seed_<s>/      one training run per seed (train.seed = s: initialization and window order):
                   checkpoints, metrics, TensorBoard, eval/step_N (its own evaluation)
    aggregate/     aggregate.json and figures over seeds x tasks (`gato.results.runs`): IQM, mean,
                   median, optimality gap with 95% stratified-bootstrap intervals over the seeds
Sequential and resumable: a seed whose final checkpoint exists is not trained again (a partial
one resumes from its last checkpoint) and an evaluation already written with the same eval
config is reused, so rerunning the command after an interruption finishes the sweep. The eval
config is checked (protocol against the reference returns) before anything is trained.
"""

import argparse
import copy
import pathlib

from gato.workflows import common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_run_arguments(parser, config=None, workdir=None)
    parser.add_argument("--seeds", required=True, help="comma-separated train seeds, e.g. 0,1,2")


def parse_seeds(text: str) -> list[int]:
    """[0, 1, 2] from "0,1,2"; ValueError (one line) for anything else or repeated seeds."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--seeds must be comma-separated integers, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds must name distinct seeds, got {text!r}")
    return seeds


def finished(train_dir: pathlib.Path, total_steps: int) -> bool:
    """Whether train_dir holds a checkpoint at (or past) total_steps."""
    from gato.eval.checkpoints import list_steps
    from gato.rundir import RunDir

    directory = RunDir(train_dir).checkpoints
    return directory.is_dir() and any(s >= total_steps for s in list_steps(directory))


def sweep(config, seeds: list[int], workdir: pathlib.Path, title: str) -> dict:
    """Trains, evaluates and aggregates `config` over `seeds` in `workdir`; returns the
    aggregate summary (gato.results.statistics)."""
    from gato.eval.evaluator import Evaluator
    from gato.results import runs
    from gato.train import train_and_evaluate

    if config.generate.tasks and not config.data.data_dir:
        common.record(config, common.data_dir(config, workdir))
    Evaluator(common.eval_config(config))  # validates it and refuses a protocol mismatch now
    results = {}
    for seed in seeds:
        train_dir = workdir / f"seed_{seed}"
        if finished(train_dir, int(config.train.total_steps)):
            print(f"seed {seed}: trained ({train_dir}), skipping training", flush=True)
        else:
            print(f"seed {seed}: training {config.train.total_steps} steps -> {train_dir}",
                  flush=True)
            seed_config = copy.deepcopy(config)
            seed_config.train.seed = seed
            train_and_evaluate(seed_config, train_dir)
        done = common.evaluate(config, train_dir)
        results[runs.run_label(done)] = done
    return runs.aggregate_runs(results, workdir / "aggregate", int(config.eval.bootstrap_reps),
                          title=title)


def run(args: argparse.Namespace) -> int:
    seeds = parse_seeds(args.seeds)
    config = common.start(args)
    sweep(config, seeds, pathlib.Path(args.workdir), f"{len(seeds)} seeds of {args.config}")
    return 0
