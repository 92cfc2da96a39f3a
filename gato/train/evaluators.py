"""In-training evaluators, declared in the config by name (as big_vision's `config.evals`).

    config.evaluators = {"rollout": {"type": "rollout", "every": 5000, "options": {...}}}

Each entry runs `every` steps; `type` names a factory registered with `@register(type)`, called once
per run as `factory(config, options, workdir)` and returning an `Evaluator`, whose `run(params,
step)` returns named metrics (and may write reports under the run's workdir). Types register
themselves when their module is imported: the workflows import the ones that ship ("rollout",
"offline", "text", "image_text" in `gato.eval`; `gato.eval.EVALUATOR_MODULES`); code of your own
registers a type with `register` before training, or names it "package.module:type", which
imports that module first (e.g. the test drills "gato.testing.train:sleep").
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
    module, sep, short = name.rpartition(":")
    if sep and short not in _REGISTRY:
        importlib.import_module(module)
    if (short if sep else name) not in _REGISTRY:
        raise ValueError(f"unknown evaluator type {name!r}; registered: "
                         f"{', '.join(sorted(_REGISTRY))} (or 'package.module:type')")
    return _REGISTRY[short if sep else name]


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
    for name, entry in sorted(dict(config.evaluators).items()):
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
