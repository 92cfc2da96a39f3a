"""`gato main`: the whole mission on the built-in default data, on one machine.

    gato main [--config gato_cpu[:variant] | path.py[:variant]] [--workdir runs/main]

1. generate expert episodes for the config's control and Atari tasks (RLDS through TFDS, in
   WORKDIR/data; resumable: a rerun only makes what is missing),
2. train one generalist on the mixture of those tasks and the default text corpus
   (WORKDIR/train; resumes from its last checkpoint),
3. evaluate the final checkpoint on every task with an environment and print per-suite tables
   of returns and expert-normalized scores (WORKDIR/train/eval/step_N: JSON, CSV, plots, GIFs),
4. print text samples from a prompt.
"""

import argparse
import logging
import os
import pathlib
import time

import ml_collections

DEFAULT_CONFIG = "gato_cpu"  # experiments/gato_cpu.py, shipped with the package


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=DEFAULT_CONFIG,
                        help="experiment config, path[:variant] (default: %(default)s)")
    parser.add_argument("--workdir", default="runs/main",
                        help="data, checkpoints, metrics and reports (default: %(default)s)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config key")
    parser.add_argument("--prompt", default="The Python interpreter",
                        help="text prompt for the samples printed at the end")


def _banner(text: str) -> None:
    print(f"\n=== {text} {'=' * max(0, 90 - len(text))}", flush=True)


TASK_OVERRIDE_KEYS = ("episodes", "max_episode_steps", "action_noise")


def generation_groups(g: ml_collections.ConfigDict) -> list[dict]:
    """The `generate` section as generate_datasets calls: one per distinct (episodes, step cap,
    execution noise), with `g.task_overrides` (task -> episodes / max_episode_steps /
    action_noise, each over its suite's setting) applied.
    """
    from gato.envs import registry

    def named(tasks: str) -> list[registry.Task]:
        return registry.select(None, tasks) if tasks else []

    suites = ((named(g.control_tasks), g.control_episodes, g.control_max_episode_steps,
               g.control_action_noise, g.control_noise_correlation),
              (named(g.atari_tasks), g.atari_episodes, g.atari_max_episode_steps,
               g.atari_action_noise, 0.0))
    overrides = {name: dict(entry) for name, entry in dict(g.get("task_overrides", {})).items()}
    listed = {t.name for tasks, *_ in suites for t in tasks}
    for name, entry in overrides.items():
        if name not in listed:
            raise ValueError(f"generate.task_overrides names {name!r}, which is not in "
                             f"generate.control_tasks or generate.atari_tasks")
        bad = sorted(set(entry) - set(TASK_OVERRIDE_KEYS))
        if bad:
            raise ValueError(f"generate.task_overrides[{name!r}] has unknown keys {bad}; "
                             f"allowed: {', '.join(TASK_OVERRIDE_KEYS)}")
    groups: dict[tuple, list[registry.Task]] = {}
    for tasks, episodes, cap, noise, correlation in suites:
        for task in tasks:
            entry = overrides.get(task.name, {})
            key = (int(entry.get("episodes", episodes)),
                   int(entry.get("max_episode_steps", cap)),
                   float(entry.get("action_noise", noise)), correlation)
            groups.setdefault(key, []).append(task)
    return [{"tasks": tasks, "episodes": episodes, "max_episode_steps": cap or None,
             "action_noise": noise, "noise_correlation": correlation}
            for (episodes, cap, noise, correlation), tasks in groups.items()]


def generate(config, data_dir: pathlib.Path) -> None:
    """Expert data for the config's control and Atari tasks (step 1)."""
    from gato.data.recording.generate import format_report, generate_datasets

    g = config.generate
    for group in generation_groups(g):
        report = generate_datasets(group.pop("tasks"), data_dir, seed=g.seed,
                                   workers=g.workers, **group)
        print(format_report(report), flush=True)


def evaluate(config, train_dir: pathlib.Path, data_dir: pathlib.Path) -> dict:
    """Rolls out the final checkpoint on every task and prints per-suite tables (step 3)."""
    from gato.eval import checkpoints
    from gato.eval.evaluator import Evaluator
    from gato.model import Gato

    loaded = checkpoints.load_checkpoint(train_dir)
    eval_config = config.eval
    eval_config.data_dir = str(data_dir)
    evaluator = Evaluator(eval_config, Gato(loaded.model_config), workdir=loaded.workdir,
                          data_config=loaded.config.get("data"))
    return evaluator.run(loaded.params, loaded.step, extra={"checkpoint": str(loaded.path)})


def sample_text(train_dir: pathlib.Path, prompt: str, num_tokens: int = 48) -> None:
    """Prints the final checkpoint's held-out text bits per byte (the validation split of the
    run's corpus) and greedy and sampled continuations of `prompt` (step 4)."""
    from gato.data.pipeline.resolve import load_text_documents
    from gato.eval import checkpoints
    from gato.eval.text import bits_per_byte, generate_text

    loaded = checkpoints.load_checkpoint(train_dir)
    data = loaded.config.get("data") or {}
    name = data.get("text") or "pydocs"
    documents = load_text_documents(name, "validation", data.get("data_dir"),
                                    data.get("text_max_documents"))
    r = bits_per_byte(loaded.model_config, loaded.params, documents)
    print(f"held-out {name}: {r['bits_per_byte']:.3f} bits per byte ({r['nll']:.3f} nats per "
          f"token; {r['documents']} documents, {r['tokens']} tokens, {r['bytes']} bytes)",
          flush=True)
    for temperature in (0.0, 0.8):
        text = generate_text(loaded.model_config, loaded.params, prompt, num_tokens,
                             temperature=temperature)
        print(f"[temperature {temperature}] {prompt}{text}", flush=True)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("MUJOCO_GL", "osmesa")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from gato.eval.config import validate as validate_eval
    from gato.train import train_and_evaluate
    from gato.train.config import apply_overrides, load_config
    from gato.train.validate import validate_config

    config = apply_overrides(load_config(args.config), args.overrides)
    validate_config(config)  # before any work: every section, generate and eval included
    if "suites" in config.get("eval", {}):
        validate_eval(config.eval)
    workdir = pathlib.Path(args.workdir)
    data_dir = pathlib.Path(config.data.data_dir or workdir / "data").resolve()
    config.data.data_dir = str(data_dir)
    train_dir = workdir / "train"
    started = time.perf_counter()

    _banner(f"1/4 expert data -> {data_dir}")
    generate(config, data_dir)
    _banner(f"2/4 training {config.model.name} for {config.train.total_steps} steps -> {train_dir}")
    final = train_and_evaluate(config, train_dir)
    print({k: round(float(v), 4) for k, v in final.items() if k.startswith("train/loss")})
    _banner("3/4 evaluation of the final checkpoint")
    evaluate(config, train_dir, data_dir)
    _banner("4/4 text: held-out bits per byte and samples")
    if (config.data.get("mixture") or {}).get("text", 0.0) > 0:
        sample_text(train_dir, args.prompt)
    else:
        print("none: the mixture has no text")
    print(f"\ndone in {(time.perf_counter() - started) / 60:.1f} min; everything is in {workdir}")
    return 0
