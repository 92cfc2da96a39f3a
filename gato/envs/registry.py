"""The task registry: every task has a name, a suite, a timestep spec and an environment factory.

Suite modules (`gato.envs.control`, `gato.envs.atari`, `gato.envs.text`, ...) call `register` at
import time; lookups import them on first use, so `get("cartpole-swingup")` works without importing
anything else first. Suites may also register named task sets (`register_task_set`, e.g.
Meta-World's "MT10"): a set's name in a task list expands to its tasks (`select`, `task_set`).
"""

import dataclasses
import importlib
from collections.abc import Callable, Iterable

import dm_env

from gato.tokenizers.spec import TimestepSpec

SUITE_MODULES = ("gato.envs.control", "gato.envs.atari", "gato.envs.text",
                 "gato.envs.metaworld", "gato.envs.babyai", "gato.envs.vision_language",
                 "gato.envs.datasets")


@dataclasses.dataclass(frozen=True)
class Task:
    """One task.

    Attributes:
      name: unique name, e.g. "cartpole-swingup" or "pong".
      suite: e.g. "control", "atari", "metaworld" or "text".
      spec: how observations and actions are tokenized; None for text tasks.
      make_env: seed -> a fresh dm_env.Environment (None for text tasks).
      max_episode_steps: episode-length cap for data generation and evaluation.
      description: one line for `gato tasks`.
    """

    name: str
    suite: str
    spec: TimestepSpec | None
    make_env: Callable[[int], dm_env.Environment] | None
    max_episode_steps: int
    description: str = ""


@dataclasses.dataclass(frozen=True)
class TaskSet:
    """A named list of tasks (a benchmark's split), usable wherever a task list is.

    Attributes:
      name: as the benchmark spells it, e.g. "MT10" or "ML45-train"; looked up case-insensitively.
      members: () -> task names; called on use, so a suite's registration stays cheap.
      description: one line for `gato tasks`.
    """

    name: str
    members: Callable[[], list[str]]
    description: str = ""


_TASKS: dict[str, Task] = {}
_SETS: dict[str, TaskSet] = {}
_RESOLVERS: dict[str, Callable[[str], Task]] = {}
_loaded = False


def register(task: Task) -> Task:
    if task.name in _TASKS:
        raise ValueError(f"task {task.name!r} is already registered")
    _TASKS[task.name] = task
    return task


def register_task_set(task_set: TaskSet) -> TaskSet:
    key = task_set.name.lower()
    if key in _SETS or key in _TASKS:
        raise ValueError(f"task set {task_set.name!r} is already registered")
    _SETS[key] = task_set
    return task_set


def _load_suites() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in SUITE_MODULES:
            importlib.import_module(module)


def all_tasks() -> list[Task]:
    _load_suites()
    return sorted(_TASKS.values(), key=lambda t: (t.suite, t.name))


def suites() -> list[str]:
    return sorted({t.suite for t in all_tasks()})


def register_resolver(prefix: str, resolve: Callable[[str], Task]) -> None:
    """Names starting with `prefix` that are not registered yet are handed to `resolve`, which
    registers and returns their task (a suite with more tasks than it registers at import, e.g.
    any BabyAI level by name), so they work wherever a task name does, in workers too."""
    _RESOLVERS[prefix] = resolve


def registered(name: str) -> bool:
    """Whether `name` is a registered task (without resolving it)."""
    _load_suites()
    return name in _TASKS


def get(name: str) -> Task:
    _load_suites()
    if name not in _TASKS:
        for prefix, resolve in _RESOLVERS.items():
            if name.startswith(prefix):
                return resolve(name)
        sets = f"; task sets: {', '.join(s.name for s in task_sets())}" if _SETS else ""
        raise KeyError(f"unknown task {name!r}; registered tasks: {', '.join(sorted(_TASKS))}"
                       f"{sets}")
    return _TASKS[name]


def suite(name: str) -> list[Task]:
    tasks = [t for t in all_tasks() if t.suite == name]
    if not tasks:
        raise KeyError(f"unknown suite {name!r}; suites: {', '.join(suites())}")
    return tasks


def task_sets() -> list[TaskSet]:
    """Every registered task set, sorted by name."""
    _load_suites()
    return sorted(_SETS.values(), key=lambda s: s.name.lower())


def task_set(name: str) -> list[str]:
    """Task names of the set `name` (case-insensitive, e.g. "mt10"), in the set's order."""
    _load_suites()
    if name.lower() not in _SETS:
        raise KeyError(f"unknown task set {name!r}; task sets: "
                       f"{', '.join(s.name for s in task_sets())}")
    return list(_SETS[name.lower()].members())


def is_task_set(name: str) -> bool:
    _load_suites()
    return name.lower() in _SETS


def require_in_set(set_name: str, task_names: str | Iterable[str]) -> None:
    """Raises ValueError (one line) naming the tasks outside the set `set_name`, e.g. a held-out
    ML45-test task in a list meant to stay inside ML45-train."""
    members = task_set(set_name)
    names = [n.strip() for n in (task_names.split(",") if isinstance(task_names, str)
                                 else task_names) if n.strip()]
    outside = [n for n in names if n not in members]
    if outside:
        raise ValueError(f"tasks {', '.join(outside)} are not in task set "
                         f"{_SETS[set_name.lower()].name}; its tasks: {', '.join(members)}")


def select(suite_names: str | Iterable[str] | None = None,
           task_names: str | Iterable[str] | None = None) -> list[Task]:
    """Tasks named by suites and/or tasks; comma-separated strings are accepted for both, and a
    task set's name (e.g. "MT10", any case) among the tasks stands for its tasks."""
    def _split(x):
        if x is None:
            return []
        return [s.strip() for s in (x.split(",") if isinstance(x, str) else x) if s.strip()]

    chosen = {t.name: t for s in _split(suite_names) for t in suite(s)}
    for name in _split(task_names):
        chosen.update({n: get(n) for n in (task_set(name) if is_task_set(name) else [name])})
    if not chosen:
        raise ValueError("select() needs at least one suite or task name")
    return sorted(chosen.values(), key=lambda t: (t.suite, t.name))
