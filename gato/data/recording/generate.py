"""`gato generate`: expert (or random) episodes -> staged shards -> TFDS RLDS datasets.

    gato generate --suite control --episodes 100 --data-dir ~/tensorflow_datasets --workers 8
    gato generate --tasks cartpole-swingup --episodes 10 --data-dir /tmp/tfds
    gato generate --tasks pendulum-swingup --behaviours expert:10,noisy0.5:30,random:10 \
        --noise-correlation 0.9 --data-dir /tmp/tfds      # mixed quality, one dataset

Shards are staged in `<data-dir>/staging/gato_<suite>/<task>/<policy>-seed<S>-cap<K>/` and
generated in parallel by `gato.data.recording.jobs` (a rerun only regenerates missing or corrupt
shards); then each task's dataset `<data-dir>/gato_<suite>/<task>/1.0.0` (array_record) is built
by the TFDS builder of `gato.data.recording.builders`. The `tfds build` CLI needs TensorFlow,
which the project does not install; this command is its equivalent. With --behaviours each task's
dataset mixes behaviour policies of graded quality (`gato.data.recording.behaviours`). Every
built dataset gets its manifest (`gato.data.formats.manifest`; `gato data describe DIR`).
"""

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import tensorflow_datasets as tfds

from gato.data.formats import manifest as manifest_lib
from gato.data.formats import rlds
from gato.data.recording import jobs
from gato.envs import registry


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", help="comma-separated suites (control, atari, babyai)")
    parser.add_argument("--tasks", help="comma-separated task names")
    parser.add_argument("--episodes", type=int, default=100, help="episodes per task")
    parser.add_argument("--data-dir", default=None,
                        help="TFDS data dir to write to (default: $TFDS_DATA_DIR or "
                             "~/tensorflow_datasets)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--policy", choices=("expert", "random"), default="expert")
    parser.add_argument("--max-episode-steps", type=int, default=None,
                        help="cap on actions per episode (default: the task's own cap)")
    parser.add_argument("--seed", type=int, default=0, help="base seed of all episodes")
    parser.add_argument("--shard-size", type=int, default=10, help="episodes per staged shard")
    parser.add_argument("--action-noise", type=float, default=0.0,
                        help="execution noise while recording: Gaussian std as a fraction of half "
                             "the action range (continuous) or the probability of a random "
                             "action (discrete); episodes store the policy's own actions "
                             "(default: 0, none)")
    parser.add_argument("--noise-correlation", type=float, default=0.0,
                        help="AR(1) coefficient per step of continuous execution noise, in "
                             "[0, 1): sustained pushes instead of independent ones; tasks with "
                             "discrete actions keep independent noise (default: 0)")
    parser.add_argument("--behaviours", default="",
                        help="record a mix of behaviour policies per task instead of one, e.g. "
                             "expert:10,noisy0.5:30,random:10 (noisyS: the expert with executed "
                             "noise of scale S, the executed actions stored); replaces "
                             "--episodes, --policy and --action-noise")


def build_dataset(task: registry.Task, data_dir: str, settings: dict[str, Any]) -> Any:
    """Writes the task's TFDS dataset from its (already generated) staged shards.

    `settings`: episodes, policy, seed, max_episode_steps, shard_size, workers.
    """
    from gato.data.recording.builder import TaskConfig
    from gato.data.recording.builders import BUILDERS

    cls = BUILDERS[task.suite]
    config: Any = task.name
    if all(c.name != task.name for c in cls.BUILDER_CONFIGS):  # registered after import
        config = TaskConfig(name=task.name, description=task.description)
    builder = cls(config=config, data_dir=data_dir, ensure_shards=False, **settings)
    mode = tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS  # rebuild from the shards
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(download_mode=mode))
    return builder


def format_report(report: dict[str, dict[str, Any]]) -> str:
    """A table: task, episodes, generated now, steps, mean return, generation and build seconds."""
    lines = [f"{'task':<28}{'episodes':>9}{'new':>6}{'steps':>10}{'mean return':>13}"
             f"{'gen s':>9}{'build s':>9}"]
    for task, row in report.items():
        lines.append(f"{task:<28}{row['episodes']:>9}{row['generated']:>6}{row['steps']:>10}"
                     f"{row['mean_return']:>13.2f}{row['seconds']:>9.1f}"
                     f"{row.get('build_seconds', 0.0):>9.1f}")
    return "\n".join(lines)


def generate_datasets(tasks: list[registry.Task], data_dir: str | Path | None, *,
                      episodes: int, policy: str = "expert", seed: int = 0,
                      max_episode_steps: int | None = None, shard_size: int = 10,
                      workers: int = 1, action_noise: float = 0.0,
                      noise_correlation: float = 0.0,
                      behaviours: str = "") -> dict[str, dict[str, Any]]:
    """Generates (or resumes) each task's episodes, then builds its TFDS dataset and writes its
    manifest. `behaviours` (a mix, `gato.data.recording.behaviours`) replaces episodes, policy
    and action_noise.

    Returns per-task statistics (episodes, newly generated, steps, mean return, seconds).
    """
    bad = [t.name for t in tasks if t.spec is None or t.make_env is None]
    if bad:
        raise ValueError(f"tasks {bad} have no environment to generate episodes from")
    if behaviours:
        from gato.data.recording.behaviours import parse_behaviours

        if action_noise:
            raise ValueError("--behaviours stores executed actions; --action-noise (DART) "
                             "does not apply to a mix")
        mix = parse_behaviours(behaviours)
        policy = "expert" if any(b.policy == "expert" and b.episodes for b in mix) else "random"
    if policy == "expert":
        from gato.policies import expert_tasks, has_expert

        missing = [t.name for t in tasks if not has_expert(t.name)]
        if missing:
            raise ValueError(f"no expert policy for {missing}; use --policy random or tasks "
                             f"with experts: {', '.join(expert_tasks())}")
    data_dir = str(rlds.data_root(data_dir))
    configs = []
    for t in tasks:
        root = Path(data_dir) / "staging" / f"gato_{t.suite}"
        configs += (jobs.behaviour_run_configs(t.name, root, behaviours, seed, max_episode_steps,
                                               shard_size, noise_correlation) if behaviours else
                    [jobs.make_run_config(t.name, root, episodes, policy, seed,
                                          max_episode_steps, shard_size, action_noise,
                                          noise_correlation)])
    report = jobs.ensure_shards(configs, workers)
    settings = {"episodes": episodes, "policy": policy, "seed": seed,
                "max_episode_steps": max_episode_steps, "shard_size": shard_size,
                "workers": workers, "action_noise": action_noise,
                "noise_correlation": noise_correlation, "behaviours": behaviours}
    for task in tasks:
        build_started = time.perf_counter()
        build_dataset(task, data_dir, settings)
        manifest, directory = manifest_lib.dataset_manifest(task.name, data_dir,
                                                            generation=settings)
        manifest_lib.write_manifest(directory, manifest)
        report[task.name]["build_seconds"] = time.perf_counter() - build_started
    return report


def _tasks_to_generate(suites: str | None, tasks: str | None, policy: str) -> list[registry.Task]:
    """Named tasks, plus the environment tasks of the named suites; with expert data, a suite's
    tasks without an expert are skipped (and said so), while a named one is an error later."""
    chosen = {t.name: t for t in registry.select(None, tasks)} if tasks else {}
    for task in registry.select(suites, None) if suites else []:
        if task.make_env is None or task.name in chosen:
            continue
        if policy == "expert":
            from gato.policies import has_expert

            if not has_expert(task.name):
                print(f"skipping {task.name}: no expert policy (use --policy random for it)")
                continue
        chosen[task.name] = task
    if not chosen:
        raise ValueError("nothing to generate: name --suite and/or --tasks")
    return sorted(chosen.values(), key=lambda t: (t.suite, t.name))


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    data_dir = str(rlds.data_root(args.data_dir))
    report = generate_datasets(
        _tasks_to_generate(args.suite, args.tasks, args.policy), data_dir, episodes=args.episodes,
        policy=args.policy, seed=args.seed, max_episode_steps=args.max_episode_steps,
        shard_size=args.shard_size, workers=args.workers, action_noise=args.action_noise,
        noise_correlation=args.noise_correlation, behaviours=args.behaviours)
    print(format_report(report))
    print(f"total {time.perf_counter() - started:.1f} s; datasets in {data_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gato.data.recording.generate",
                                     description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
