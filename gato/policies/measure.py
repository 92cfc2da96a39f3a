"""Measures the reference table: expert and random returns per task, in parallel.

  nice -n 5 python -m gato.policies.measure --processes 2
  nice -n 5 python -m gato.policies.measure --protocol cap1000 --tasks boxing,breakout,freeway,pong

runs every task that has an expert (or --tasks) for --control-episodes / --atari-episodes
episodes per policy (seeds base_seed + i, the same seeds for expert and random), in environments
built under the evaluation protocol --protocol (`gato.envs.protocol`: episode cap, Atari frame
skip, sticky actions, no-op starts), and writes the entries under that protocol's name in
gato/envs/reference_scores.json. Tasks whose env has a `success` property (Meta-World, BabyAI)
also get the fraction of episodes that succeeded ("expert_success", "random_success").
"""

import argparse
import json
import multiprocessing
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from gato.envs import protocol as protocol_lib
from gato.envs import registry, scores


def measured_return(task_name: str, policy_kind: str, seed: int, protocol_name: str) -> float:
    """Undiscounted return of one episode of `policy_kind` ("expert"/"random") from `seed`,
    under the evaluation protocol `protocol_name`."""
    return measured_episode(task_name, policy_kind, seed, protocol_name)[0]


def measured_episode(task_name: str, policy_kind: str, seed: int,
                     protocol_name: str) -> tuple[float, bool | None]:
    """(return, success) of the episode `measured_return` runs; success is the env's `success`
    property after the episode, None for envs without one."""
    from gato import policies

    task = protocol_lib.get(protocol_name).apply(registry.get(task_name))
    env = task.make_env(seed)
    if policy_kind == "expert":
        policy = policies.make_expert(task_name, env)
    else:
        policy = policies.RandomPolicy(task.spec, seed)
    policy.reset(seed)
    ret = policies.episode_return(env, policy, task.max_episode_steps)
    return ret, getattr(env, "success", None)


def _run_job(job: tuple[str, str, int, str]) -> tuple[str, str, int, float, bool | None]:
    return (*job[:3], *measured_episode(*job))


def measure(task_names: list[str], episodes: dict[str, int], base_seed: int = 0,
            processes: int = 2, protocol_name: str = protocol_lib.DEFAULT) -> dict[str, dict]:
    """{task: reference entry} over `episodes[suite]` seeds per policy under the protocol
    `protocol_name`, with a process pool."""
    protocol = protocol_lib.get(protocol_name)
    jobs = [(name, kind, base_seed + i, protocol_name) for name in task_names
            for kind in ("expert", "random") for i in range(episodes[registry.get(name).suite])]
    returns: dict[tuple[str, str], dict[int, float]] = {}
    successes: dict[tuple[str, str], list[bool]] = {}
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        for done, (name, kind, seed, ret, ok) in enumerate(pool.imap_unordered(_run_job, jobs),
                                                           1):
            returns.setdefault((name, kind), {})[seed] = ret
            if ok is not None:
                successes.setdefault((name, kind), []).append(bool(ok))
            if done % 20 == 0 or done == len(jobs):
                print(f"{done}/{len(jobs)} episodes ({name} {kind} seed {seed}: {ret:.1f})",
                      flush=True)
    table = {}
    for name in task_names:
        expert = [returns[(name, "expert")][s] for s in sorted(returns[(name, "expert")])]
        rand = [returns[(name, "random")][s] for s in sorted(returns[(name, "random")])]
        table[name] = {
            "expert_mean": float(np.mean(expert)), "expert_std": float(np.std(expert)),
            "random_mean": float(np.mean(rand)), "random_std": float(np.std(rand)),
            "episodes": len(expert), "seeds": sorted(returns[(name, "expert")]),
            "environment": protocol.environment(registry.get(name)),
        }
        for kind in ("expert", "random"):
            if (name, kind) in successes:
                table[name][f"{kind}_success"] = float(np.mean(successes[(name, kind)]))
    return table


def main(argv: list[str] | None = None) -> int:
    from gato.policies import expert_tasks

    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="python -m gato.policies.measure", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=None, help="comma-separated; default: all experts")
    parser.add_argument("--protocol", default=protocol_lib.DEFAULT,
                        choices=sorted(protocol_lib.PROTOCOLS),
                        help="evaluation protocol the returns are measured under")
    parser.add_argument("--control-episodes", type=int, default=30)
    parser.add_argument("--atari-episodes", type=int, default=10)
    parser.add_argument("--metaworld-episodes", type=int, default=10)
    parser.add_argument("--babyai-episodes", type=int, default=50)
    parser.add_argument("--base-seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--output", type=Path, default=scores.TABLE_PATH)
    args = parser.parse_args(argv)
    names = args.tasks.split(",") if args.tasks else expert_tasks()
    unknown = [n for n in names if n not in expert_tasks()]
    if unknown:
        parser.error(f"no expert for {unknown}; tasks with experts: {', '.join(expert_tasks())}")
    start = time.time()
    episodes = {"control": args.control_episodes, "atari": args.atari_episodes,
                "metaworld": args.metaworld_episodes, "babyai": args.babyai_episodes}
    table = measure(names, episodes, args.base_seed, args.processes, args.protocol)
    command = "python -m gato.policies.measure " + shlex.join(argv)
    old = json.loads(args.output.read_text()) if args.output.exists() else {}
    for entry in table.values():
        entry["measured_with"] = command.strip()
    tasks = (old.get(args.protocol) or {}).get("tasks", {}) | table
    old[args.protocol] = {"protocol": protocol_lib.get(args.protocol).to_dict(),
                          "tasks": dict(sorted(tasks.items()))}
    args.output.write_text(json.dumps(dict(sorted(old.items())), indent=1) + "\n")
    for name, e in table.items():
        rates = "".join(f"   {k} {e[k]:.2f}" for k in ("expert_success", "random_success")
                        if k in e)
        print(f"{name:20s} expert {e['expert_mean']:9.2f} +- {e['expert_std']:7.2f}   "
              f"random {e['random_mean']:9.2f} +- {e['random_std']:7.2f}   n={e['episodes']}"
              f"{rates}")
    print(f"wrote {args.output} in {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
