"""The `generate` config section as calls of `generate_datasets`: what every workflow records.

    for group in plan(config.generate):            # tasks sharing episodes, cap and noise
        generate_datasets(group.tasks, data_dir, seed=..., workers=..., **group.settings)
    record(config.generate, data_dir)              # the same, printing each report

Each task's settings are the section's own (`episodes`, `max_episode_steps`, `action_noise`,
`noise_correlation`), updated by its suite's entry in `suite_overrides`, then by its own in
`task_overrides`; a task named in `behaviours` records that behaviour mix instead of its expert.
The vision_language suite's "minigrid-scenes" has no environment: it is rendered from MiniGrid
scenes instead (`scene_builder.build_scenes`), `episodes` training scenes and a tenth as many
held-out ones (at least 10).
"""

import dataclasses
from pathlib import Path
from typing import Any

from gato.envs import registry

SETTINGS = ("episodes", "max_episode_steps", "action_noise", "noise_correlation")


@dataclasses.dataclass(frozen=True)
class Group:
    """Tasks recorded by one `generate_datasets` call, and that call's keyword settings."""

    tasks: list[registry.Task]
    settings: dict[str, Any]


def _entries(section: Any, key: str, names: set[str], what: str) -> dict[str, dict]:
    """section[key] (name -> settings) as plain dicts; ValueError for an unknown name or key."""
    entries = {name: dict(entry) for name, entry in dict(section[key]).items()}
    for name, entry in entries.items():
        if name not in names:
            raise ValueError(f"generate.{key} names {name!r}, which is not {what} of "
                             f"generate.tasks ({', '.join(sorted(names)) or 'none'})")
        bad = sorted(set(entry) - set(SETTINGS))
        if bad:
            raise ValueError(f"generate.{key}[{name!r}] has unknown keys {bad}; allowed: "
                             f"{', '.join(SETTINGS)}")
    return entries


def task_settings(section: Any) -> dict[str, dict[str, Any]]:
    """{task name: its SETTINGS (and "behaviours" when it records a mix)} of a generate section."""
    tasks = registry.select(None, section.tasks) if section.tasks else []
    suites = _entries(section, "suite_overrides", {t.suite for t in tasks}, "a suite")
    overrides = _entries(section, "task_overrides", {t.name for t in tasks}, "a task")
    behaviours = dict(section.behaviours)  # mixes of tasks not recorded here are not used
    out = {}
    for task in tasks:
        settings = {key: section[key] for key in SETTINGS}
        settings |= suites.get(task.suite, {}) | overrides.get(task.name, {})
        if task.name in behaviours:
            settings |= {"behaviours": str(behaviours[task.name]), "episodes": 0,
                         "action_noise": 0.0}
        out[task.name] = settings
    return out


def plan(section: Any) -> list[Group]:
    """The section's tasks grouped by identical settings (one `generate_datasets` call each)."""
    groups: dict[tuple, list[registry.Task]] = {}
    for name, settings in task_settings(section).items():
        task = registry.get(name)
        groups.setdefault(_plan_key(task, settings), []).append(task)
    return [Group(tasks, _call_settings(dict(key[1:]))) for key, tasks in groups.items()]


def _call_settings(settings: dict[str, Any]) -> dict[str, Any]:
    out = {"episodes": int(settings["episodes"]),
           "max_episode_steps": int(settings["max_episode_steps"]) or None,
           "action_noise": float(settings["action_noise"]),
           "noise_correlation": float(settings["noise_correlation"])}
    if "behaviours" in settings:
        out["behaviours"] = settings["behaviours"]
    return out


SCENES_SUITE = "vision_language"


def _plan_key(task: registry.Task, settings: dict) -> tuple:
    return (task.suite == SCENES_SUITE, *sorted(settings.items()))


def _record_scenes(group: Group, section: Any, data_dir: str | Path) -> dict[str, dict]:
    """The MiniGrid scenes dataset (the vision_language suite's own data)."""
    from gato.data.recording.scene_builder import build_scenes

    train = int(group.settings["episodes"])
    path = build_scenes(data_dir, train=train, validation=max(10, train // 10),
                        seed=int(section.seed))
    print(f"minigrid-scenes: {train} training scenes, {max(10, train // 10)} held out -> {path}",
          flush=True)
    return {t.name: {"episodes": train} for t in group.tasks}


def record(section: Any, data_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Records (or resumes) every group of the section into `data_dir`, printing each report;
    returns the reports by task."""
    from gato.data.recording.generate import format_report, generate_datasets

    reports = {}
    for group in plan(section):
        if group.tasks[0].suite == SCENES_SUITE:
            reports |= _record_scenes(group, section, data_dir)
            continue
        report = generate_datasets(group.tasks, data_dir, seed=int(section.seed),
                                   workers=int(section.workers), **group.settings)
        print(format_report(report), flush=True)
        reports |= report
    return reports
