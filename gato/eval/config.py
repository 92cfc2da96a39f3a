"""The `eval` section of an experiment config: how checkpoints are rolled out and scored."""

from collections.abc import Mapping
from typing import Any

import ml_collections

from gato.config import defaults
from gato.envs import protocol as protocol_lib
from gato.envs.protocol import Protocol
from gato.eval.decoding import DECODING_MODES
from gato.eval.returns import ExpertInference, ReturnTarget, parse_return_target

PROMPT_MODES = ("none", "start", "end")


def default_eval_config() -> ml_collections.ConfigDict:
    """The eval section's defaults (`gato.config.defaults`)."""
    return defaults.section("eval")


def run_settings(run_config: ml_collections.ConfigDict,
                 changes: Mapping[str, Any] | None = None) -> ml_collections.ConfigDict:
    """The eval settings of a run: the defaults <- the run's `eval` section <- `changes`.

    What the eval section leaves at its default comes from the run's data section: the
    demonstrations' data_dir ('' means the run's data.data_dir) and on_bad_episode. The one
    place where `gato eval`, the workflows and the in-training "rollout" evaluator assemble
    their settings; an unknown key raises ValueError naming it."""
    config = default_eval_config()
    default_bad_episode = config.on_bad_episode
    for source, items in (("eval section", run_config.eval.items()),
                          ("eval setting", (changes or {}).items())):
        for key, value in items:
            if key not in config:
                raise ValueError(f"unknown {source} key {key!r}; known: "
                                 f"{', '.join(sorted(config))}")
            if value is not None:
                config[key] = type(config[key])(value)
    data = run_config.get("data") or {}
    if not config.data_dir and data.get("data_dir"):
        config.data_dir = str(data["data_dir"])
    if "on_bad_episode" not in (changes or {}) and data.get("on_bad_episode") and \
            run_config.eval.get("on_bad_episode") in (None, default_bad_episode):
        config.on_bad_episode = data["on_bad_episode"]
    return config


def validate(config: ml_collections.ConfigDict) -> None:
    """Raises ValueError naming the offending key if the eval config is unusable."""
    protocol = str(config.protocol)
    if protocol not in protocol_lib.PROTOCOLS:
        raise ValueError(f"eval.protocol={protocol!r}; expected one of "
                         f"{sorted(protocol_lib.PROTOCOLS)}")
    if config.prompt not in PROMPT_MODES:
        raise ValueError(f"eval.prompt={config.prompt!r}; expected one of {PROMPT_MODES}")
    if int(config.batch_size) < 1:
        raise ValueError(f"eval.batch_size must be >= 1, got {config.batch_size}")
    if int(config.episodes) < 0 or int(config.seed) < -1:
        raise ValueError(f"eval.episodes must be >= 0 and eval.seed >= -1, got "
                         f"{config.episodes} and {config.seed}")
    if int(config.bootstrap_reps) < 1:
        raise ValueError(f"eval.bootstrap_reps must be >= 1, got {config.bootstrap_reps}")
    if config.prompt != "none" and int(config.prompt_tokens) < 1:
        raise ValueError(f"eval.prompt_tokens must be >= 1, got {config.prompt_tokens}")
    if config.decoding not in DECODING_MODES:
        raise ValueError(f"eval.decoding={config.decoding!r}; expected one of {DECODING_MODES}")
    if config.decoding != "greedy" and float(config.temperature) <= 0:
        raise ValueError(f"eval.temperature must be > 0 (or eval.decoding='greedy'), "
                         f"got {config.temperature}")
    if config.on_bad_episode not in ("skip", "fail"):
        raise ValueError(f"eval.on_bad_episode={config.on_bad_episode!r}; expected 'skip' or "
                         "'fail'")
    if int(config.max_steps) < 0:
        raise ValueError(f"eval.max_steps must be >= 0, got {config.max_steps}")
    return_conditioning_options(config)


def return_conditioning_options(config: ml_collections.ConfigDict
                                ) -> tuple[ReturnTarget, ExpertInference]:
    """The parsed eval.return_target and expert-inference options; ValueError names the key."""
    try:
        target = parse_return_target(config.return_target)
    except ValueError as e:
        raise ValueError(f"eval.return_target: {e}") from None
    try:
        inference = ExpertInference(float(config.return_kappa), int(config.return_samples),
                                    float(config.return_inverse_temperature))
    except ValueError as e:
        raise ValueError(f"eval.return_kappa / return_samples / return_inverse_temperature: "
                         f"{e}") from None
    return target, inference


def eval_protocol(config: ml_collections.ConfigDict) -> Protocol:
    """The protocol named by eval.protocol with eval.episodes / seed / max_steps applied."""
    return protocol_lib.resolve(str(config.protocol),
                                episodes=int(config.episodes), seed=int(config.seed),
                                max_steps=int(config.max_steps))
