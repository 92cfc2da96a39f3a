"""Environments and task suites: the registry, Control Suite and Atari tasks, reference scores.

`get(name)`, `suite(name)`, `select(suites, tasks)` and `all_tasks()` load every suite module on
first use.
"""

from gato.envs.registry import Task, all_tasks, get, register, select, suite, suites

__all__ = ["Task", "all_tasks", "get", "register", "select", "suite", "suites"]
