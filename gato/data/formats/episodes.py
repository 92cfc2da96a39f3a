"""Episodes in the RLDS step layout, as stacked numpy arrays.

An `Episode` is a dict with every step stacked along the first axis (T steps):
  "observation": {flat "/"-joined key: array [T, ...]}  (nested observations flattened)
  "action": [T, ...], "reward": float32 [T], "discount": float32 [T],
  "is_first", "is_last", "is_terminal": bool [T].
RLDS alignment (as in RL Unplugged): step t holds observation o_t, the action a_t taken there and
the reward/discount that followed it (recorded with execution noise, a_t is the policy's choice and
the env executed a perturbed one; see `gato.data.recording.record`). The last step holds the final
observation with is_last=True; its action is zeros and its reward 0 (no action is taken there);
is_terminal marks a true termination (env discount 0), not a time-limit truncation.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

Episode = dict[str, Any]


class EpisodeSourceLike(Protocol):
    """Random access to episodes (a grain RandomAccessDataSource): len(source), source[i]."""

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> Episode: ...


class SubsetSource:
    """The episodes of `source` at `indices`, as a random-access source (len, [i], metadata,
    locate): a split slice (`load_episodes`) or %BC's kept episodes."""

    def __init__(self, source: Any, indices: Sequence[int]):
        self.source, self.indices = source, np.asarray(indices, np.int64)
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= len(source)):
            raise ValueError(f"indices outside [0, {len(source)})")

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, i: int) -> Any:
        return self.source[int(self.indices[i])]

    def metadata(self, i: int) -> dict[str, Any]:
        return self.source.metadata(int(self.indices[i]))

    def locate(self, i: int) -> str:
        """Where episode i is stored, as the underlying source says (else its index there)."""
        j = int(self.indices[i])
        where = getattr(self.source, "locate", None)
        return where(j) if where else f"episode {j} of {self.source!r}"


STEP_KEYS = ("action", "reward", "discount", "is_first", "is_last", "is_terminal")


def unflatten_observation(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{"a/b": leaf} -> nested dict; the inverse of `flatten_observation`."""
    nested: dict[str, Any] = {}
    for path, value in flat.items():
        node = nested
        *parents, leaf = path.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def observation_dtype(dtype: np.dtype) -> np.dtype:
    """Stored dtype of an observation leaf: floats as float32, everything else unchanged."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if np.issubdtype(dtype, np.floating) else dtype


def action_dtype(action_spec: Any) -> np.dtype:
    """Stored dtype of actions: int64 for integer (discrete) specs, float32 otherwise."""
    dtype = np.dtype(action_spec.dtype)
    return np.dtype(np.int64) if np.issubdtype(dtype, np.integer) else np.dtype(np.float32)


def episode_length(episode: Episode) -> int:
    """Number of steps T (including the final observation-only step)."""
    return int(episode["reward"].shape[0])


def episode_return(episode: Episode) -> float:
    """Undiscounted sum of rewards."""
    return float(np.sum(episode["reward"], dtype=np.float64))


def validate_episode(episode: Episode) -> None:
    """Raises ValueError naming the first key whose shape or flags break the Episode layout."""
    missing = [k for k in ("observation", *STEP_KEYS) if k not in episode]
    if missing:
        raise ValueError(f"episode lacks keys {missing}")
    num_steps = episode_length(episode)
    arrays = {**{f"observation/{k}": v for k, v in episode["observation"].items()},
              **{k: episode[k] for k in STEP_KEYS}}
    for key, value in arrays.items():
        if np.shape(value)[:1] != (num_steps,):
            raise ValueError(f"episode[{key!r}] has shape {np.shape(value)}, "
                             f"expected [{num_steps}, ...]")
    if num_steps and not (episode["is_first"][0] and episode["is_last"][-1]):
        raise ValueError("episode must start with is_first and end with is_last")
