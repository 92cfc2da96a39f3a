"""`gato tasks`: list registered tasks with their specs, episode caps, experts and reference scores.

  gato tasks                       # every task
  gato tasks --suite control       # one suite (comma-separated for several)
  gato tasks --tasks pong,breakout --json
"""

import argparse
import json

from gato.envs import registry, scores
from gato.tokenizers.spec import TimestepSpec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", default=None, help="comma-separated suite names")
    parser.add_argument("--tasks", default=None, help="comma-separated task names")
    parser.add_argument("--json", action="store_true", help="one JSON object per task")


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
        info["reference"] = {k: ref[k] for k in ("expert_mean", "random_mean", "episodes")}
    except (KeyError, FileNotFoundError):
        info["reference"] = None
    return info


def format_row(info: dict) -> str:
    obs = ", ".join(f"{k}:{v}" for k, v in sorted(info["observation"].items())) or "text"
    ref = info["reference"]
    ref_text = (f"expert {ref['expert_mean']:.1f} / random {ref['random_mean']:.1f}"
                if ref else "-")
    return (f"{info['name']:20s} {info['suite']:8s} {info['action']:28s} "
            f"{info['max_episode_steps']:>5d}  {'yes' if info['expert'] else 'no ':3s}  "
            f"{ref_text:32s} {obs}")


def run(args: argparse.Namespace) -> int:
    tasks = registry.select(args.suite, args.tasks) if args.suite or args.tasks else (
        registry.all_tasks())
    infos = [task_info(t) for t in tasks]
    if args.json:
        for info in infos:
            print(json.dumps(info))
        return 0
    print(f"{'task':20s} {'suite':8s} {'action':28s} {'cap':>5s}  {'exp':3s}  "
          f"{'reference return':32s} observation")
    for info in infos:
        print(format_row(info))
    return 0
