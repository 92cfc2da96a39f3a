"""Return-to-go tokens per task: the `data.returns` config section and each task's return range.

`return_spec(task_name, config.data.returns)` is the task's `ReturnSpec` (range and placement,
`gato.tokenizers.returns`) when return tokens are enabled, None otherwise;
`gato.envs.specs.task_spec` puts it in the task's TimestepSpec. The model must have the return
bins too (`ModelConfig.return_tokens`; `check_model` says when the two disagree).

Where a task's return range comes from (`data.returns.range`):
  "reference" (the one source so far): the reference table of measured expert and random returns
      (`gato.envs.scores`, at the task's episode cap): low = min(0, random), high = low +
      headroom * (expert - low). Return-to-go falls from the episode's return to 0 (or, with
      negative rewards, below it), so the range starts at 0 or the random return, whichever is
      lower; with the default headroom 1.25 the expert's return sits at 80% of the range, so a
      request above it (up to 1.25x) still has its own bins. The table is known without any
      dataset and the same in training and evaluation, so a checkpoint's return tokens mean the
      same returns whatever data it was trained on.
`data.returns.ranges` sets [low, high] for named tasks instead.
"""

from collections.abc import Mapping
from typing import Any

import ml_collections

from gato.config import defaults
from gato.envs import scores
from gato.tokenizers.returns import PLACEMENTS, ReturnSpec

RANGE_SOURCES = ("reference",)


def default_returns_config() -> ml_collections.ConfigDict:
    """The data.returns section's defaults: return tokens off, as Gato (`gato.config.defaults`)."""
    return defaults.section("data.returns")


def enabled(config: Any) -> bool:
    """Whether a data.returns section turns return tokens on."""
    return bool(config.enabled)


def reference_range(task_name: str, headroom: float = 1.25) -> tuple[float, float]:
    """(low, high) of `task_name` from the reference table (module docstring)."""
    if headroom < 1.0:
        raise ValueError(f"data.returns.headroom must be >= 1, got {headroom}")
    ref = scores.reference(task_name)
    low = min(0.0, float(ref["random_mean"]))
    high = low + headroom * (float(ref["expert_mean"]) - low)
    if not high > low:
        raise ValueError(f"task {task_name!r}: its reference expert return "
                         f"{ref['expert_mean']} is not above {low}; set data.returns.ranges")
    return low, high


def return_range(task_name: str, config: Any) -> tuple[float, float]:
    """The task's (low, high) under a data.returns section."""
    ranges: Mapping[str, Any] = config.ranges
    if task_name in ranges:
        low, high = (float(v) for v in ranges[task_name])
        return low, high
    source = config.range
    if source not in RANGE_SOURCES:
        raise ValueError(f"data.returns.range={source!r}; expected one of {RANGE_SOURCES}")
    return reference_range(task_name, float(config.headroom))


def return_spec(task_name: str, config: Any) -> ReturnSpec | None:
    """The task's ReturnSpec, or None when the section does not enable return tokens."""
    if not enabled(config):
        return None
    placement = config.placement
    if placement not in PLACEMENTS:
        raise ValueError(f"data.returns.placement={placement!r}; expected one of {PLACEMENTS}")
    low, high = return_range(task_name, config)
    return ReturnSpec(low, high, placement)


def check_model(returns_config: Any, return_tokens: bool) -> None:
    """Raises ValueError when data.returns and the model's return_tokens disagree: return ids
    outside the model's vocabulary, or return bins no data ever fills."""
    if enabled(returns_config) and not return_tokens:
        raise ValueError("data.returns.enabled=True needs a model with return tokens "
                         "(model.overrides.return_tokens=True)")
    if return_tokens and not enabled(returns_config):
        raise ValueError("the model has return tokens (return_tokens=True) but "
                         "data.returns.enabled is False: its data would carry none")
