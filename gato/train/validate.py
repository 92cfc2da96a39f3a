"""Checks an experiment config before any work starts: types, ranges, choices and names.

    validate_config(config)   # raises gato.errors.ConfigError naming the key and what it expects

`RULES` maps dotted keys to what they accept; a key absent from a config is not checked (the
sections differ between experiments), a key present must satisfy its rule. Beyond the table:
the model section must build a ModelConfig, the mixture's tasks and suites must be registered,
`data.mixture` keys must be suites and `data.task_weights` keys tasks. Unknown keys are refused
where they enter: `--set` (`apply_overrides`) and variants (`parse_variant`).
"""

import dataclasses
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gato.envs.returns import RANGE_SOURCES
from gato.errors import ConfigError
from gato.tokenizers.returns import PLACEMENTS


@dataclasses.dataclass(frozen=True)
class Rule:
    """What a config key accepts: a predicate on the value and its description."""

    accepts: Callable[[Any], bool]
    expected: str


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def integer(low: int | None = None) -> Rule:
    text = "an integer" if low is None else f"an integer >= {low}"
    return Rule(lambda v: _is_int(v) and (low is None or v >= low), text)


def number(low: float | None = None, high: float | None = None, *, open_low: bool = False,
           open_high: bool = False) -> Rule:
    """A real number in [low, high] (ends open when asked)."""
    def ok(v: Any) -> bool:
        if not _is_number(v):
            return False
        above = low is None or (v > low if open_low else v >= low)
        below = high is None or (v < high if open_high else v <= high)
        return above and below

    if low is not None and high is not None:
        text = f"a number in {'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
    elif low is not None:
        text = f"a number {'>' if open_low else '>='} {low}"
    else:
        text = "a number"
    return Rule(ok, text)


def optional(rule: Rule) -> Rule:
    return Rule(lambda v: v is None or rule.accepts(v), f"None or {rule.expected}")


def choice(*options: str) -> Rule:
    return Rule(lambda v: v in options, f"one of {', '.join(map(repr, options))}")


BOOL = Rule(lambda v: isinstance(v, bool), "True or False")
TEXT = Rule(lambda v: isinstance(v, str), "a string")
NAME = Rule(lambda v: isinstance(v, str) and bool(v.strip()), "a non-empty string")
OPTIONAL_TEXT = Rule(lambda v: v is None or isinstance(v, str), "a string or None")
KEYS = Rule(lambda v: isinstance(v, Sequence) and not isinstance(v, str)
            and all(isinstance(k, str) for k in v), "a list of metric names")
WEIGHTS = Rule(lambda v: isinstance(v, Mapping) and all(_is_number(w) and w >= 0
                                                         for w in v.values()),
               "a mapping of names to weights >= 0")
FRACTION = number(0.0, 1.0)


def _sources() -> Mapping[str, str]:
    from gato.data.pipeline.sources import SOURCES

    return SOURCES


POSITIVE = integer(1)
COUNT = integer(0)

RULES: dict[str, Rule] = {
    "train.total_steps": POSITIVE,
    "train.batch_size": POSITIVE,
    "train.seq_len": POSITIVE,
    "train.seed": integer(),
    "train.log_every": POSITIVE,
    "train.checkpoint_every": POSITIVE,
    "train.profile_start": integer(0),
    "train.profile_steps": POSITIVE,
    "train.keep_checkpoints": optional(POSITIVE),
    "train.eval_every": COUNT,
    "train.peak_flops_per_device": number(0.0),
    "train.num_task_ids": COUNT,
    "train.nan_check_keys": KEYS,
    "train.loss_on_targets_only": BOOL,
    "train.target_buckets": POSITIVE,
    "train.image_buckets": COUNT,
    "train.label_sigma": number(0.0),
    "train.action_softmax": choice("vocab", "range"),
    "train.action_buckets": POSITIVE,
    # observation-token prediction (gato.model.loss.ObservationLoss): 0 is Gato's objective
    "train.observation_weight": number(0.0),
    "train.observation_kinds": Rule(
        lambda v: isinstance(v, str) and bool(v.strip()) and all(
            k.strip() in ("continuous", "discrete") for k in v.split(",") if k.strip()),
        "comma-separated kinds among 'continuous', 'discrete'"),
    "optimizer.learning_rate": number(0.0, open_low=True),
    "optimizer.warmup_steps": COUNT,
    "optimizer.final_lr_fraction": FRACTION,
    "optimizer.b1": number(0.0, 1.0, open_high=True),
    "optimizer.b2": number(0.0, 1.0, open_high=True),
    "optimizer.eps": number(0.0, open_low=True),
    "optimizer.weight_decay": number(0.0),
    "optimizer.clip_norm": number(),
    "model.name": NAME,
    "data.source": Rule(lambda v: v in _sources(), "a registered data source "
                        "(gato.data.pipeline.sources.SOURCES)"),
    "data.split": NAME,
    "data.data_dir": OPTIONAL_TEXT,
    "data.suites": TEXT,
    "data.tasks": TEXT,
    "data.mixture": WEIGHTS,
    "data.task_weights": WEIGHTS,
    "data.prompt_fraction": FRACTION,
    "data.prompt_end_fraction": FRACTION,
    "data.episode_start_fraction": FRACTION,
    "data.prompt_tokens": optional(COUNT),
    "data.max_episodes": optional(POSITIVE),
    "data.on_bad_episode": choice("skip", "fail"),
    "data.text": NAME,
    "data.frame_stack": Rule(lambda v: _is_int(v) and 1 <= v <= 3, "1, 2 or 3"),
    "data.frame_motion": BOOL,
    "data.text_max_documents": optional(POSITIVE),
    "data.worker_count": COUNT,
    "data.read_threads": POSITIVE,
    "data.prefetch_batches": POSITIVE,
    "data.image_patches": POSITIVE,
    "data.num_continuous": COUNT,
    "data.num_discrete": COUNT,
    "data.discrete_range": POSITIVE,
    "data.num_tasks": POSITIVE,
    "data.text_fraction": FRACTION,
    "data.text_vocab": POSITIVE,
    "mesh.num_devices": COUNT,
    "checkpoint.resume": BOOL,
    "checkpoint.resume_from": OPTIONAL_TEXT,
    "checkpoint.init_from": OPTIONAL_TEXT,
    "checkpoint.on_damaged": choice("fallback", "fail"),
    "generate.control_episodes": POSITIVE,
    "generate.atari_episodes": POSITIVE,
    "generate.control_max_episode_steps": COUNT,
    "generate.atari_max_episode_steps": COUNT,
    "generate.control_action_noise": number(0.0),
    "generate.control_noise_correlation": number(0.0, 1.0, open_high=True),
    "generate.atari_action_noise": FRACTION,
    "generate.workers": POSITIVE,
    "generate.seed": integer(),
    "eval.episodes": POSITIVE,
    "eval.batch_size": POSITIVE,
    "eval.seed": integer(),
    "eval.temperature": number(0.0),
    "eval.prompt_tokens": COUNT,
    "eval.max_steps": COUNT,
    "eval.on_bad_episode": choice("skip", "fail"),
    # return-to-go tokens (gato.envs.returns) and %BC (gato.data.pipeline.filtering); the
    # return target's forms are checked by the evaluator (gato.eval.returns)
    "data.returns.enabled": BOOL,
    "data.returns.placement": choice(*PLACEMENTS),
    "data.returns.range": choice(*RANGE_SOURCES),
    "data.returns.headroom": number(1.0),
    "data.filter.top_fraction": number(0.0, 1.0, open_low=True),
    "eval.return_target": TEXT,
    "eval.return_kappa": number(0.0),
    "eval.return_samples": POSITIVE,
    "eval.return_inverse_temperature": number(0.0, open_low=True),
}


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
    overrides = dict(_plain(config.model.get("overrides")) or {})
    try:
        get_model_config(config.model.name, **overrides)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"config section model (name {config.model.name!r}, overrides "
                          f"{overrides}): {e}") from e


def check_tasks(config: Any) -> None:
    """The mixture's suites and tasks must be registered; weights must name suites / tasks."""
    data = config.get("data")
    if data is None or data.get("source") != "mixture":
        return
    from gato.envs import registry

    try:
        tasks = registry.select(data.get("suites") or None, data.get("tasks") or None)
    except (KeyError, ValueError) as e:
        raise ConfigError(f"config keys data.suites / data.tasks: "
                          f"{e.args[0] if e.args else e}") from e
    if not tasks:
        raise ConfigError("config keys data.suites / data.tasks select no task")
    for key, known in (("mixture", registry.suites()),
                       ("task_weights", [t.name for t in registry.all_tasks()])):
        unknown = sorted(set(_plain(data.get(key)) or {}) - set(known))
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


def validate_config(config: Any) -> None:
    """Every check of this module; raises ConfigError (one line) on the first failure."""
    check_rules(config)
    check_model(config)
    check_tasks(config)
    check_frames(config)
