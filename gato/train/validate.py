"""Checks an experiment config before any work starts: types, ranges, choices and names.

    validate_config(config)   # raises gato.errors.ConfigError naming the key and what it expects

Every key's rule stands beside its default (`gato.config.defaults.RULES`). Beyond them: the
data source must be registered, the model section must build a ModelConfig, the mixture's tasks
and suites must be registered, `data.mixture` keys must be suites and `data.task_weights` keys
tasks, the frame settings must fit the tokenizer. Unknown keys are refused where they enter:
experiment files (`gato.config.load_config`), `--set` and variants.
"""

from collections.abc import Mapping
from typing import Any

from gato.config.defaults import RULES
from gato.config.rules import Rule
from gato.errors import ConfigError


def _sources() -> Mapping[str, str]:
    from gato.data.pipeline.sources import SOURCES

    return SOURCES


def _lookup(config: Any, key: str) -> tuple[bool, Any]:
    node = config
    for part in key.split("."):
        if not hasattr(node, "get") or part not in node:
            return False, None
        node = node[part]
    return True, node


def _plain(value: Any) -> Any:
    return value.to_dict() if hasattr(value, "to_dict") else value


def check_rules(config: Any, rules: Mapping[str, Rule] = RULES) -> None:
    """Raises ConfigError for the first key present in `config` that its rule refuses."""
    for key, rule in rules.items():
        present, value = _lookup(config, key)
        if present and not rule.accepts(_plain(value)):
            raise ConfigError(f"config key {key}={_plain(value)!r}: expected {rule.expected}")


def check_model(config: Any) -> None:
    """config.model must name a model size and real ModelConfig fields."""
    from gato.model import get_model_config

    if "model" not in config:
        return
    overrides = dict(_plain(config.model.overrides))
    try:
        get_model_config(config.model.name, **overrides)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"config section model (name {config.model.name!r}, overrides "
                          f"{overrides}): {e}") from e


def check_tasks(config: Any) -> None:
    """The mixture's suites and tasks must be registered; weights must name suites / tasks."""
    data = config.data
    if data.source != "mixture":
        return
    from gato.data.formats import minari
    from gato.envs import registry

    try:
        minari.register_named(data.tasks or None)  # minari/<id>: registered from its spaces
        tasks = registry.select(data.suites or None, data.tasks or None)
    except (KeyError, ValueError) as e:
        raise ConfigError(f"config keys data.suites / data.tasks: "
                          f"{e.args[0] if e.args else e}") from e
    if not tasks:
        raise ConfigError("config keys data.suites / data.tasks select no task")
    for key, known in (("mixture", registry.suites()),
                       ("task_weights", [t.name for t in registry.all_tasks()])):
        unknown = sorted(set(_plain(data[key])) - set(known))
        if unknown:
            raise ConfigError(f"config key data.{key} names unknown {unknown}; "
                              f"expected names from: {', '.join(sorted(known))}")


def check_frames(config: Any) -> None:
    """data.frame_stack and data.frame_motion under the tokenizer's own rule
    (`gato.tokenizers.spec.check_frames`)."""
    from gato.tokenizers.spec import check_frames as check

    has_motion, motion = _lookup(config, "data.frame_motion")
    has_stack, stack = _lookup(config, "data.frame_stack")
    stack, motion = (_plain(stack) if has_stack else 1), bool(has_motion and motion)
    try:
        check(stack, motion)
    except ValueError as e:
        raise ConfigError(f"config keys data.frame_stack={stack!r} / data.frame_motion={motion}: "
                          f"{e}") from e


def check_source(config: Any) -> None:
    """data.source must name a registered data source."""
    present, source = _lookup(config, "data.source")
    if present and source not in _sources():
        raise ConfigError(f"config key data.source={source!r}: expected a registered data source"
                          f" ({', '.join(sorted(_sources()))})")


def validate_config(config: Any) -> None:
    """Every check of this module; raises ConfigError (one line) on the first failure."""
    check_rules(config)
    check_source(config)
    check_model(config)
    check_tasks(config)
    check_frames(config)
