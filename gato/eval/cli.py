"""`gato eval`: evaluate checkpoints per task suite.

    gato eval --checkpoint WORKDIR/checkpoints/1000 --suite control
    gato eval --checkpoint WORKDIR --tasks cartpole-swingup,pong --episodes 4 --decoding mean
    gato eval --run WORKDIR --suite control        # every checkpoint, newest first, unscored only
    gato eval --checkpoint runs/s0 runs/s1 runs/s2 --out runs/seeds   # runs x tasks aggregate
    gato eval --checkpoint WORKDIR --tasks pendulum-swingup --return-target 0.9xexpert
    gato eval --checkpoint WORKDIR --evaluator captions   # one in-training evaluator, post hoc

Outputs go to WORKDIR/eval/step_<step>/ (results.json, tasks.csv, suites.csv, PNG plots, GIFs;
see `gato.results.report`; results there from a different evaluation, such as the run's own,
are kept unless --force) and scalars to WORKDIR/tensorboard; with several checkpoints, their
aggregate (IQM, mean, median, optimality gap with 95% intervals over runs;
`gato.results.runs`) goes
to --out. Episodes run under the evaluation protocol (--protocol, `gato.envs.protocol`). The
eval settings are the run's (`gato.eval.config.run_settings`: the defaults, the run's config.json
`eval` section, its data section's data_dir and on_bad_episode) with these flags on top.

--evaluator NAME runs one in-training evaluator on the checkpoint instead of rollouts: an entry
of the run's `evaluators` (its type and options), or a registered type with its default options
(`--evaluator image_text`, `--evaluator offline --evaluator-options '{"missions": "shuffled"}'`
to change them). Its metrics are printed and written to WORKDIR/eval/step_<step>/evaluator_NAME.json
(--out: there).
"""

import argparse
import json
import logging
import os
import pathlib

import ml_collections

from gato.envs.protocol import PROTOCOLS
from gato.eval.config import PROMPT_MODES, run_settings
from gato.eval.decoding import DECODING_MODES
from gato.rundir import RESULTS_JSON, RunDir

# flag -> eval config key, for flags that override the config when given
_OVERRIDES = {"suite": "suites", "tasks": "tasks", "episodes": "episodes",
              "batch_size": "batch_size", "temperature": "temperature", "prompt": "prompt",
              "prompt_tokens": "prompt_tokens", "prompt_split": "prompt_split",
              "data_dir": "data_dir", "max_steps": "max_steps", "seed": "seed",
              "decoding": "decoding", "protocol": "protocol", "reps": "bootstrap_reps",
              "normalize": "normalize", "on_bad_episode": "on_bad_episode",
              "return_target": "return_target", "return_kappa": "return_kappa",
              "return_samples": "return_samples",
              "return_inverse_temperature": "return_inverse_temperature",
              "instruction": "instruction"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--checkpoint", nargs="+",
                       help="a run WORKDIR, its checkpoints dir or a step dir; several: "
                            "evaluate each and aggregate them into --out")
    which.add_argument("--run", help="a run WORKDIR: evaluate every checkpoint, newest first")
    parser.add_argument("--step", type=int, help="with --checkpoint: this step, not the latest")
    parser.add_argument("--suite", help="comma-separated suites (default: control)")
    parser.add_argument("--tasks", help="comma-separated task names")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS),
                        help="evaluation protocol: episode cap, Atari settings, episodes, seeds")
    parser.add_argument("--episodes", type=int, help="episodes per task (0: the protocol's)")
    parser.add_argument("--batch-size", type=int, help="environments stepped together")
    parser.add_argument("--temperature", type=float, help="softmax temperature of actions")
    parser.add_argument("--decoding", choices=DECODING_MODES,
                        help="action tokens: sample, greedy (argmax) or mean (continuous "
                             "actions: the expected value's bin)")
    parser.add_argument("--greedy", action="store_true", help="same as --decoding greedy")
    parser.add_argument("--prompt", choices=PROMPT_MODES, help="demonstration prompt mode")
    parser.add_argument("--prompt-tokens", type=int, help="prompt length in tokens")
    parser.add_argument("--prompt-split", help="dataset split of the demonstrations")
    parser.add_argument("--data-dir", help="TFDS data_dir of the demonstration datasets")
    parser.add_argument("--max-steps", type=int, help="episode-length cap (0: the protocol's)")
    parser.add_argument("--seed", type=int, help="first episode seed (-1: the protocol's)")
    parser.add_argument("--normalize", action=argparse.BooleanOptionalAction,
                        help="expert-normalize scores (refused when the protocol differs from "
                             "the references'); --no-normalize: returns only")
    parser.add_argument("--reps", type=int, help="bootstrap replications of the intervals")
    parser.add_argument("--on-bad-episode", choices=("skip", "fail"),
                        help="corrupt demonstrations: skip (and list) or fail (default: the "
                             "run's data.on_bad_episode, else skip)")
    parser.add_argument("--return-target",
                        help="models with return tokens: none, a return (850), a fraction of "
                             "the expert's (0.9xexpert), a dataset quantile (q0.9) or expert")
    parser.add_argument("--return-kappa", type=float,
                        help="expert: weight of exp(kappa * normalised return) (default 0)")
    parser.add_argument("--return-samples", type=int,
                        help="expert: returns drawn per timestep, the highest kept (default 128)")
    parser.add_argument("--return-inverse-temperature", type=float,
                        help="expert: multiplies the return logits (default 0.75)")
    parser.add_argument("--instruction", choices=("own", "other"),
                        help="text observations (BabyAI missions): each episode's own, or "
                             "another episode's (how much the agent reads its instruction)")
    parser.add_argument("--evaluator", help="run this in-training evaluator (the run's entry of "
                        "that name, or a registered type) instead of rollouts")
    parser.add_argument("--evaluator-options", type=json.loads, default={}, metavar="JSON",
                        help="options over the evaluator's, e.g. '{\"examples\": 200}'")
    parser.add_argument("--no-gif", action="store_true", help="do not render rollout GIFs")
    parser.add_argument("--out", help="output directory (default WORKDIR/eval/step_<step>); "
                                      "with several checkpoints: the aggregate's (required)")
    parser.add_argument("--force", action="store_true",
                        help="with --run: re-score all steps; else replace results a different "
                             "evaluation wrote to WORKDIR/eval/step_<step> (default: refuse)")


def eval_config(args: argparse.Namespace,
                run_config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The run's eval settings (`gato.eval.config.run_settings`) <- command-line flags."""
    changes = {key: getattr(args, flag) for flag, key in _OVERRIDES.items()
               if getattr(args, flag, None) is not None}
    if args.tasks is not None and args.suite is None:
        changes["suites"] = ""
    if args.greedy:
        changes["decoding"] = "greedy"
    config = run_settings(run_config, changes)
    config.gif = bool(config.gif and not args.no_gif)
    return config


def evaluate_checkpoint(args: argparse.Namespace, path: pathlib.Path, step: int | None,
                        out: pathlib.Path | None) -> dict:
    """Loads one checkpoint, checks it against the tasks, evaluates and writes its reports."""
    from gato.eval import evaluator

    return evaluator.evaluate_checkpoint(path, lambda run_config: eval_config(args, run_config),
                                         step=step, out=out, replace=bool(args.force))


def _evaluate_many(args: argparse.Namespace) -> int:
    """Evaluates every --checkpoint (to its own WORKDIR/eval/step_N) and aggregates them."""
    from gato.results import runs

    if not args.out:
        raise ValueError("--out DIR is required with several checkpoints (the aggregate goes "
                         "there)")
    results: dict[str, dict] = {}
    for path in args.checkpoint:
        done = evaluate_checkpoint(args, pathlib.Path(path), args.step, None)
        label = runs.run_label(done)
        if label in results:
            raise ValueError(f"checkpoint {label} is given twice")
        results[label] = done
    reps = next(iter(results.values()))["eval_config"]["bootstrap_reps"]
    runs.aggregate_runs(results, pathlib.Path(args.out), int(reps))
    return 0


def _run_all(args: argparse.Namespace) -> int:
    from gato.eval import checkpoints

    directory, _ = checkpoints.checkpoints_dir(args.run)
    steps = checkpoints.list_steps(directory)
    if not steps:
        raise FileNotFoundError(f"no checkpoints in {str(directory)!r}")
    run = RunDir.of(directory)
    for step in steps:
        out = pathlib.Path(args.out) / run.eval_dir(step).name if args.out else None
        done = out / RESULTS_JSON if out else run.results(step)
        if done.exists() and not args.force:
            print(f"step {step}: already scored ({done}), skipping")
            continue
        evaluate_checkpoint(args, directory, step, out)
    return 0


def run_evaluator(args: argparse.Namespace) -> dict[str, float]:
    """`--evaluator`: one in-training evaluator on one checkpoint; its metrics (printed and
    written as JSON)."""
    from gato.eval import checkpoints, register_evaluators
    from gato.train import evaluators

    if args.run or len(args.checkpoint) > 1:
        raise ValueError("--evaluator takes one --checkpoint")
    if not isinstance(args.evaluator_options, dict):
        raise ValueError("--evaluator-options must be a JSON object, e.g. '{\"examples\": 200}'")
    register_evaluators()
    loaded = checkpoints.load_checkpoint(args.checkpoint[0], args.step)
    entries = dict(loaded.config.evaluators)
    entry = entries.get(args.evaluator)
    kind = entry["type"] if entry else args.evaluator
    try:
        factory = evaluators.get(kind)
    except ValueError as e:
        raise ValueError(f"--evaluator {args.evaluator!r} is not an evaluator of the run "
                         f"({', '.join(sorted(entries)) or 'it has none'}) and {e}") from None
    options = (dict(entry.get("options", {})) if entry else {}) | args.evaluator_options
    evaluator = factory(loaded.config, options, loaded.workdir)
    metrics = {k: float(v) for k, v in sorted(evaluator.run(loaded.params, loaded.step).items())}
    out = pathlib.Path(args.out) if args.out else RunDir(loaded.workdir).eval_dir(loaded.step)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"evaluator_{args.evaluator.replace(':', '_').replace('.', '_')}.json"
    path.write_text(json.dumps({"checkpoint": str(loaded.path), "step": loaded.step,
                                "evaluator": args.evaluator, "type": kind, "options": options,
                                "metrics": metrics}, indent=1) + "\n")
    width = max((len(k) for k in metrics), default=0)
    print("\n".join(f"{k:<{width}}  {v:.4f}" for k, v in metrics.items()))
    print(f"step {loaded.step}: {len(metrics)} metrics of evaluator {args.evaluator!r} -> {path}")
    return metrics


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("MUJOCO_GL", "osmesa")  # headless rendering of the rollout GIFs
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.evaluator:
        run_evaluator(args)
        return 0
    if args.run:
        return _run_all(args)
    if len(args.checkpoint) > 1:
        return _evaluate_many(args)
    evaluate_checkpoint(args, pathlib.Path(args.checkpoint[0]), args.step,
                        pathlib.Path(args.out) if args.out else None)
    return 0
