"""Filtered behaviour cloning (%BC): train on the top fraction of each task's episodes by return.

Gato trained on its data's best episodes; Decision Transformer's %BC baseline keeps the top X% of
trajectories by return. `data.filter.top_fraction` in (0, 1] keeps, per task, the
ceil(fraction x episodes) episodes with the highest returns (ties: the earlier episode), in
dataset order; 1.0 keeps all. Returns come from the dataset manifest
(`gato.data.formats.manifest`) when it matches the dataset, else from the episodes' rewards.
"""

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gato.data.formats.episodes import SubsetSource


def top_episodes(returns: Sequence[float], fraction: float) -> np.ndarray:
    """int64 indices, ascending, of the ceil(fraction x n) highest returns (ties: lower index)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"data.filter.top_fraction must be in (0, 1], got {fraction}")
    r = np.asarray(returns, np.float64)
    keep = max(1, math.ceil(fraction * r.size)) if r.size else 0
    order = np.lexsort((np.arange(r.size), -r))  # highest return first, then lower index
    return np.sort(order[:keep]).astype(np.int64)


def episode_returns(source: Any, manifest: dict[str, Any] | None = None) -> np.ndarray:
    """float64 [len(source)]: each episode's return, from the manifest when it lists one per
    episode of this source, else summed from the episodes' rewards."""
    listed = (manifest or {}).get("episode_returns")
    if listed is not None and len(listed) == len(source):
        return np.asarray(listed, np.float64)
    return np.array([float(np.sum(source[i]["reward"], dtype=np.float64))
                     for i in range(len(source))])


def filter_top(source: Any, fraction: float, manifest: dict[str, Any] | None = None) -> Any:
    """`source` itself for fraction 1.0, else a SubsetSource of its top episodes by return."""
    if fraction == 1.0:
        return source
    return SubsetSource(source, top_episodes(episode_returns(source, manifest), fraction))
