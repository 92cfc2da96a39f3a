"""In-training evaluators, declared in the config by name (as big_vision's `config.evals`).

    config.evaluators = {"rollout": {"type": "rollout", "every": 5000, "options": {...}}}

Each entry runs `every` steps; `type` names a factory registered with `@register(type)`, called once
per run as `factory(config, options, workdir)` and returning an `Evaluator`, whose `run(params,
step)` returns named metrics (and may write reports under the run's workdir). The types that ship
with the project live above the trainer (rollouts in `gato.eval`), so their modules are imported on
first use from `PROVIDERS`, as `gato.cli` imports a subcommand's module; code of your own registers
a type with `register` before training.
"""

import dataclasses
import importlib
import pathlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol


class Evaluator(Protocol):
    """Evaluates the params at a train step; returns {metric name: value} for the writer."""

    def run(self, params: Any, step: int) -> dict[str, float]: ...


Factory = Callable[[Any, Mapping[str, Any], pathlib.Path], Evaluator]

# type -> the module whose import registers it
PROVIDERS: dict[str, str] = {
    "rollout": "gato.eval.evaluator",  # roll out every eval task, score, report (config.eval)
    "offline": "gato.eval.offline",  # teacher-forced action nll/accuracy on recorded episodes
    "text": "gato.eval.text",  # held-out text nll and bits per byte
    "sleep": "gato.testing.train",  # test drill: sleeps, so a test can kill a run mid-flight
    "sigterm": "gato.testing.train",  # test drill: sends SIGTERM once (preemption)
    "damage_checkpoint": "gato.testing.faults",  # test drill: damages a saved checkpoint
}
_REGISTRY: dict[str, Factory] = {}
_FIELDS = ("type", "every", "options")


def register(name: str) -> Callable[[Factory], Factory]:
    """Decorator: registers `factory(config, options, workdir) -> Evaluator` as type `name`."""
    def decorate(factory: Factory) -> Factory:
        _REGISTRY[name] = factory
        return factory
    return decorate


def with_defaults(type_name: str, options: Mapping[str, Any],
                  defaults: Mapping[str, Any]) -> dict[str, Any]:
    """`defaults` updated by `options`; ValueError naming the evaluator type and the unknown keys
    if `options` holds a key `defaults` lacks."""
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ValueError(f"{type_name} evaluator: unknown options {unknown}; known: "
                         f"{', '.join(sorted(defaults))}")
    return dict(defaults) | dict(options)


def get(name: str) -> Factory:
    """The factory registered as `name`, importing its provider module if needed."""
    if name not in _REGISTRY and name in PROVIDERS:
        importlib.import_module(PROVIDERS[name])
    if name not in _REGISTRY:
        known = sorted(set(_REGISTRY) | set(PROVIDERS))
        raise ValueError(f"unknown evaluator type {name!r}; registered: {', '.join(known)}")
    return _REGISTRY[name]


@dataclasses.dataclass(frozen=True)
class Scheduled:
    """One configured evaluator: its config name, period in steps, and the built evaluator."""

    name: str
    every: int
    evaluator: Evaluator

    def due(self, step: int) -> bool:
        return step % self.every == 0


def build(config: Any, workdir: str | pathlib.Path) -> list[Scheduled]:
    """The evaluators of `config.evaluators` for a run in `workdir`, validated and built (in name
    order)."""
    scheduled = []
    for name, entry in sorted(dict(config.get("evaluators") or {}).items()):
        entry = dict(entry)
        unknown = sorted(set(entry) - set(_FIELDS))
        if unknown or "type" not in entry:
            raise ValueError(f"evaluators.{name}: expected keys {_FIELDS} ('type' required), "
                             f"got {sorted(entry)}")
        every = entry.get("every", 0)
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"evaluators.{name}.every must be an integer >= 1, got {every!r}")
        factory = get(entry["type"])
        scheduled.append(Scheduled(name, every, factory(config, dict(entry.get("options") or {}),
                                                  pathlib.Path(workdir))))
    return scheduled
