"""`gato tasks`: list registered tasks with their specs, episode caps, experts and reference scores.

  gato tasks                       # every task
  gato tasks --suite control       # one suite (comma-separated for several)
  gato tasks --tasks pong,breakout --json
  gato tasks --tasks mt10                # a named task set stands for its tasks
  gato tasks --sets                      # the named task sets (MT10, MT50, ML45-train, ...)
"""

import argparse
import json

from gato.envs import registry, scores
from gato.tokenizers.spec import TimestepSpec

NAME_WIDTH = 35  # the longest task name, metaworld-button-press-topdown-wall


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", default=None, help="comma-separated suite names")
    parser.add_argument("--tasks", default=None, help="comma-separated task names")
    parser.add_argument("--json", action="store_true", help="one JSON object per task")
    parser.add_argument("--sets", action="store_true",
                        help="list the named task sets (usable in --tasks) and their tasks")


def describe_action(spec: TimestepSpec | None) -> str:
    """E.g. "discrete[6]" or "continuous(2,) in [-1, 1]"."""
    if spec is None:
        return "-"
    if spec.action_kind == "discrete":
        shape = f"{spec.action_shape}" if spec.action_shape else ""
        return f"discrete{shape}[{spec.num_actions}]"
    lo, hi = spec.action_minimum, spec.action_maximum
    lo = min(lo) if isinstance(lo, tuple) else lo
    hi = max(hi) if isinstance(hi, tuple) else hi
    return f"continuous{spec.action_shape} in [{lo:g}, {hi:g}]"


def task_info(task: registry.Task) -> dict:
    """Everything `gato tasks` shows about one task, as a JSON-able dict."""
    from gato.policies import has_expert

    info = {
        "name": task.name, "suite": task.suite,
        "observation": dict(task.spec.observation) if task.spec else {},
        "action": describe_action(task.spec), "max_episode_steps": task.max_episode_steps,
        "expert": has_expert(task.name), "description": task.description,
    }
    try:
        ref = scores.reference(task.name)
        info["reference"] = {k: ref[k] for k in ("expert_mean", "random_mean", "episodes",
                                                  "expert_success", "random_success") if k in ref}
    except (KeyError, FileNotFoundError):
        info["reference"] = None
    return info


def format_row(info: dict) -> str:
    obs = ", ".join(f"{k}:{v}" for k, v in sorted(info["observation"].items())) or "text"
    ref = info["reference"]
    ref_text = (f"expert {ref['expert_mean']:.1f} / random {ref['random_mean']:.1f}"
                if ref else "-")
    if ref and "expert_success" in ref:
        ref_text += f" ({ref['expert_success']:.0%} / {ref['random_success']:.0%} solved)"
    return (f"{info['name']:{NAME_WIDTH}s} {info['suite']:9s} {info['action']:28s} "
            f"{info['max_episode_steps']:>5d}  {'yes' if info['expert'] else 'no ':3s}  "
            f"{ref_text:50s} {obs}")


def run_sets(as_json: bool) -> int:
    """Prints every named task set: name, size, description and its tasks."""
    for task_set in registry.task_sets():
        names = registry.task_set(task_set.name)
        if as_json:
            print(json.dumps({"task_set": task_set.name, "description": task_set.description,
                              "tasks": names}))
        else:
            print(f"{task_set.name:12s} {len(names):3d} tasks  {task_set.description}\n"
                  f"{'':18s}{', '.join(names)}")
    return 0


def run(args: argparse.Namespace) -> int:
    if getattr(args, "sets", False):
        return run_sets(args.json)
    tasks = registry.select(args.suite, args.tasks) if args.suite or args.tasks else (
        registry.all_tasks())
    infos = [task_info(t) for t in tasks]
    if args.json:
        for info in infos:
            print(json.dumps(info))
        return 0
    print(f"{'task':{NAME_WIDTH}s} {'suite':9s} {'action':28s} {'cap':>5s}  {'exp':3s}  "
          f"{'reference return (success rate)':50s} observation")
    for info in infos:
        print(format_row(info))
    sets = ", ".join(s.name for s in registry.task_sets())
    if sets:
        print(f"task sets (usable in --tasks; `gato tasks --sets` lists them): {sets}")
    return 0
