"""Parallel, resumable generation of staged episode shards (the engine of `gato generate`).

Episodes are rolled out in spawned worker processes (MuJoCo / ALE live in the workers), one staged
shard per job (see `gato.data.recording.staging`). Episode i of a task is seeded by (seed, task, i)
alone, so any number of workers gives the same data, and a rerun regenerates only missing or corrupt
shards.
"""

import dataclasses
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from gato.data import parent_watch
from gato.data.formats import episodes as episodes_lib
from gato.data.recording import record, staging
from gato.envs import registry


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """What to generate for one task, and where its shards are staged."""

    task: str
    directory: Path
    num_episodes: int
    policy: str
    seed: int
    max_episode_steps: int
    shard_size: int
    action_noise: float = 0.0  # execution noise scale (gato.policies.noise); 0: none
    noise_correlation: float = 0.0  # AR(1) coefficient of continuous execution noise per step
    store_executed: bool = False  # store the executed (noisy) action, not the policy's
    first_episode: int = 0  # episode indices [first, first + num_episodes) (a behaviour's mix)

    def shards(self) -> list[staging.Shard]:
        return staging.plan_shards(self.directory, self.task, self.num_episodes, self.shard_size,
                                   self.first_episode)


def make_run_config(task_name: str, staging_root: str | Path, num_episodes: int, policy: str,
                    seed: int, max_episode_steps: int | None, shard_size: int,
                    action_noise: float = 0.0, noise_correlation: float = 0.0,
                    store_executed: bool = False, first_episode: int = 0) -> RunConfig:
    """A RunConfig with its shard directory `<staging_root>/<task>/<run key>`."""
    if policy not in ("expert", "random"):
        raise ValueError(f"policy must be 'expert' or 'random', got {policy!r}")
    if action_noise < 0:
        raise ValueError(f"action_noise must be >= 0, got {action_noise}")
    task = registry.get(task_name)
    if not 0.0 <= noise_correlation < 1.0:
        raise ValueError(f"noise_correlation must be in [0, 1), got {noise_correlation}")
    if noise_correlation and task.spec is not None and task.spec.action_kind == "discrete":
        noise_correlation = 0.0  # correlated noise is for continuous actions (ExecutionNoise)
    if noise_correlation and not action_noise:
        raise ValueError("noise_correlation needs action_noise > 0")
    store_executed = bool(store_executed and action_noise)
    cap = int(max_episode_steps or task.max_episode_steps)
    key = staging.run_key(policy, seed, cap, float(action_noise), float(noise_correlation),
                          store_executed)
    return RunConfig(task_name, Path(staging_root) / task_name / key, int(num_episodes), policy,
                     int(seed), cap, int(shard_size), float(action_noise),
                     float(noise_correlation), store_executed, int(first_episode))


def behaviour_run_configs(task_name: str, staging_root: str | Path, behaviours: str, seed: int,
                          max_episode_steps: int | None, shard_size: int,
                          noise_correlation: float = 0.0) -> list[RunConfig]:
    """One RunConfig per behaviour of a mix ("expert:20,noisy0.5:30,random:10",
    `gato.data.recording.behaviours`), storing executed actions, at consecutive episode
    indices."""
    from gato.data.recording.behaviours import parse_behaviours

    configs, first = [], 0
    for behaviour in parse_behaviours(behaviours):
        if behaviour.episodes:
            configs.append(make_run_config(
                task_name, staging_root, behaviour.episodes, behaviour.policy, seed,
                max_episode_steps, shard_size, behaviour.noise,
                noise_correlation if behaviour.noise else 0.0, store_executed=True,
                first_episode=first))
        first += behaviour.episodes
    return configs


def policy_name(config: RunConfig) -> str:
    """What the episodes' `policy` metadata says: the policy and any execution noise."""
    if not config.action_noise:
        return config.policy
    corr = f",correlation={config.noise_correlation:g}" if config.noise_correlation else ""
    kind = "executed_noise" if config.store_executed else "execution_noise"
    return f"{config.policy}+{kind}={config.action_noise:g}{corr}"


def make_policy(task: registry.Task, env: Any, policy: str, seed: int) -> Any:
    """The task's scripted expert (gato.policies.make_expert) or a uniform random policy."""
    from gato import policies

    if policy == "random":
        return policies.RandomPolicy(task.spec, seed)
    return policies.make_expert(task.name, env)


def generate_shard(job: tuple[RunConfig, staging.Shard]) -> dict[str, Any]:
    """Rolls out and writes one shard; returns its stats. Runs in a worker process."""
    config, shard = job
    from gato.policies.noise import ExecutionNoise

    task = registry.get(config.task)
    started = time.perf_counter()
    episodes, metadata = [], []
    for index in range(shard.start, shard.end):
        seed = staging.episode_seed(config.seed, config.task, index)
        env = task.make_env(seed)
        try:
            policy = make_policy(task, env, config.policy, seed)
            noise = (ExecutionNoise(task.spec, config.action_noise,
                                    correlation=config.noise_correlation)
                     if config.action_noise else None)
            episodes.append(record.record_episode(env, policy, seed, config.max_episode_steps,
                                                  noise, config.store_executed))
        finally:
            env.close()
        metadata.append({"episode_id": index, "seed": seed, "task": config.task,
                         "policy": policy_name(config)})
    staging.write_shard(shard, episodes, metadata)
    return {**shard_stats(config.task, episodes), "seconds": time.perf_counter() - started}


def shard_stats(task: str, episodes: list[episodes_lib.Episode]) -> dict[str, Any]:
    """Episode count, step count and summed return of a shard's episodes."""
    return {"task": task, "episodes": len(episodes),
            "steps": sum(episodes_lib.episode_length(e) for e in episodes),
            "return_sum": sum(episodes_lib.episode_return(e) for e in episodes)}


def scan(configs: list[RunConfig]) -> tuple[list[dict], list[tuple[RunConfig, staging.Shard]]]:
    """Stats of the valid staged shards, and the jobs for missing or corrupt ones."""
    done, todo = [], []
    for config in configs:
        for path in staging.remove_temporaries(config.directory):
            print(f"removed unfinished shard {path}", file=sys.stderr)
        for shard in config.shards():
            if not shard.path.exists():
                todo.append((config, shard))
                continue
            try:
                episodes, _ = staging.read_shard(shard)
            except ValueError as e:
                print(f"{e}; regenerating it", file=sys.stderr)
                shard.path.unlink()
                todo.append((config, shard))
                continue
            done.append({**shard_stats(config.task, episodes), "seconds": 0.0})
    return done, todo


def run_jobs(jobs: list[tuple[RunConfig, staging.Shard]], workers: int) -> list[dict]:
    """Runs shard jobs in `workers` spawned processes (in-process if workers <= 1)."""
    bar = tqdm(total=sum(s.num_episodes for _, s in jobs), unit="episode", desc="generate",
               disable=not jobs)
    results = []
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            results.append(generate_shard(job))
            bar.update(job[1].num_episodes)
    else:
        with multiprocessing.get_context("spawn").Pool(
                min(workers, len(jobs)), initializer=parent_watch.exit_with_parent) as pool:
            for result in pool.imap_unordered(generate_shard, jobs):
                results.append(result)
                bar.update(result["episodes"])
    bar.close()
    return results


def ensure_shards(configs: list[RunConfig], workers: int) -> dict[str, dict[str, Any]]:
    """Generates every missing shard of `configs`; returns per-task stats of all their shards."""
    done, todo = scan(configs)
    generated = run_jobs(todo, workers)
    report: dict[str, dict[str, Any]] = {c.task: {"episodes": 0, "steps": 0, "return_sum": 0.0,
                                                  "generated": 0, "seconds": 0.0}
                                         for c in configs}
    for stats in done + generated:
        row = report[stats["task"]]
        for key in ("episodes", "steps", "return_sum", "seconds"):
            row[key] += stats[key]
    for stats in generated:
        report[stats["task"]]["generated"] += stats["episodes"]
    for row in report.values():
        row["mean_return"] = row.pop("return_sum") / max(row["episodes"], 1)
    return report
