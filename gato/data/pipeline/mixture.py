"""Task mixture: per-task sampling probabilities from suite and task weights.

A mixture is said per suite (`{"control": 1.0, "atari": 1.0, "text": 1.0}`): a suite's weight is
split among its selected tasks, uniformly or in proportion to per-task weights
(`{"cartpole-swingup": 2.0}`). Sampling is a pure function of a numpy Generator that the pipeline
derives from (seed, host, example index), so the sampler's only state is the example index and a
resumed run draws the same tasks.
"""

from collections.abc import Mapping, Sequence

import numpy as np


def task_probabilities(
    tasks: Sequence[tuple[str, str]],
    suite_weights: Mapping[str, float] | None = None,
    task_weights: Mapping[str, float] | None = None,
) -> np.ndarray:
    """Sampling probability of each task.

    Args:
      tasks: (task name, suite name) pairs, in the pipeline's task order.
      suite_weights: suite -> non-negative weight; None or missing suites weigh 1.0. A suite named
        here that has no selected task is ignored.
      task_weights: task -> non-negative weight inside its suite; missing tasks weigh 1.0.

    Returns:
      float64 [len(tasks)], summing to 1.
    """
    if not tasks:
        raise ValueError("the mixture has no tasks")
    suite_weights = dict(suite_weights or {})
    task_weights = dict(task_weights or {})
    names = {name for name, _ in tasks}
    unknown = sorted(set(task_weights) - names)
    if unknown:
        raise ValueError(f"mixture task weights name unselected tasks {unknown}; "
                         f"tasks: {sorted(names)}")
    for where, weights in (("suite", suite_weights), ("task", task_weights)):
        bad = {k: v for k, v in weights.items() if not float(v) >= 0.0}
        if bad:
            raise ValueError(f"mixture {where} weights must be >= 0, got {bad}")
    inner = np.array([float(task_weights.get(name, 1.0)) for name, _ in tasks])
    probs = np.zeros(len(tasks))
    for suite in sorted({s for _, s in tasks}):
        members = np.array([s == suite for _, s in tasks])
        total = inner[members].sum()
        if total > 0:
            probs[members] = float(suite_weights.get(suite, 1.0)) * inner[members] / total
    if probs.sum() <= 0:
        raise ValueError(f"all mixture weights are zero (suites {suite_weights}, "
                         f"tasks {task_weights})")
    return probs / probs.sum()


def sample_task(rng: np.random.Generator, probabilities: np.ndarray) -> int:
    """Draws one task index with the given probabilities (inverse-CDF, one uniform draw)."""
    cdf = np.cumsum(probabilities)
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(cdf) - 1))
