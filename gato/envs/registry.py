"""The task registry: every task has a name, a suite, a timestep spec and an environment factory.

Suite modules (`gato.envs.control`, `gato.envs.atari`, `gato.envs.text`) call `register` at import
time; lookups import them on first use, so `get("cartpole-swingup")` works without importing
anything else first.
"""

import dataclasses
import importlib
from collections.abc import Callable, Iterable

import dm_env

from gato.tokenizers.spec import TimestepSpec

SUITE_MODULES = ("gato.envs.control", "gato.envs.atari", "gato.envs.text")


@dataclasses.dataclass(frozen=True)
class Task:
    """One task.

    Attributes:
      name: unique name, e.g. "cartpole-swingup" or "pong".
      suite: "control", "atari" or "text".
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


_TASKS: dict[str, Task] = {}
_loaded = False


def register(task: Task) -> Task:
    if task.name in _TASKS:
        raise ValueError(f"task {task.name!r} is already registered")
    _TASKS[task.name] = task
    return task


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


def get(name: str) -> Task:
    _load_suites()
    if name not in _TASKS:
        raise KeyError(f"unknown task {name!r}; registered tasks: {', '.join(sorted(_TASKS))}")
    return _TASKS[name]


def suite(name: str) -> list[Task]:
    tasks = [t for t in all_tasks() if t.suite == name]
    if not tasks:
        raise KeyError(f"unknown suite {name!r}; suites: {', '.join(suites())}")
    return tasks


def select(suite_names: str | Iterable[str] | None = None,
           task_names: str | Iterable[str] | None = None) -> list[Task]:
    """Tasks named by suites and/or tasks; comma-separated strings are accepted for both."""
    def _split(x):
        if x is None:
            return []
        return [s.strip() for s in (x.split(",") if isinstance(x, str) else x) if s.strip()]

    chosen = {t.name: t for s in _split(suite_names) for t in suite(s)}
    chosen.update({n: get(n) for n in _split(task_names)})
    if not chosen:
        raise ValueError("select() needs at least one suite or task name")
    return sorted(chosen.values(), key=lambda t: (t.suite, t.name))
