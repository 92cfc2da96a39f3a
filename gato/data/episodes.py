"""Episodes in the RLDS step layout, as stacked numpy arrays, and how to record one from an env.

An `Episode` is a dict with every step stacked along the first axis (T steps):
  "observation": {flat "/"-joined key: array [T, ...]}  (nested observations flattened)
  "action": [T, ...], "reward": float32 [T], "discount": float32 [T],
  "is_first", "is_last", "is_terminal": bool [T].
RLDS alignment (as in RL Unplugged): step t holds observation o_t, the action a_t taken there and
the reward/discount that followed it (recorded with execution noise, a_t is the policy's choice and
the env executed a perturbed one; see `record_episode`). The last step holds the final observation
with is_last=True; its action is zeros and its reward 0 (no action is taken there); is_terminal
marks a true termination (env discount 0), not a time-limit truncation.
"""

from collections.abc import Mapping
from typing import Any, Protocol

import dm_env
import numpy as np

from gato.tokenizers.timestep import flatten as flatten_observation  # the tokenizers' rule

Episode = dict[str, Any]


class EpisodeSourceLike(Protocol):
    """Random access to episodes (a grain RandomAccessDataSource): len(source), source[i]."""

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> Episode: ...


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


def record_episode(env: dm_env.Environment, policy: Any, seed: int,
                   max_steps: int, noise: Any = None) -> Episode:
    """Runs `policy` in `env` for at most `max_steps` actions and returns the stacked Episode.

    `policy.reset(seed)` is called first; the env is expected to be freshly built with its own
    seed. Observations are cast by `observation_dtype`, actions by `action_dtype`. With `noise`
    (a `gato.policies.noise.ExecutionNoise`, reset with `seed`) the env executes noise(action)
    while the episode records the policy's own action (see that module for why).
    """
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    a_spec = env.action_spec()
    a_dtype = action_dtype(a_spec)
    policy.reset(seed)
    if noise is not None:
        noise.reset(seed)
    timestep = env.reset()
    observations, actions, rewards, discounts = [], [], [], []
    for _ in range(max_steps):
        action = np.asarray(policy.step(timestep))
        observations.append(flatten_observation(timestep.observation))
        actions.append(action.astype(a_dtype).reshape(a_spec.shape))
        timestep = env.step(action if noise is None else noise(action))
        rewards.append(0.0 if timestep.reward is None else float(timestep.reward))
        discounts.append(1.0 if timestep.discount is None else float(timestep.discount))
        if timestep.last():
            break
    terminal = timestep.last() and timestep.discount is not None and timestep.discount == 0.0
    observations.append(flatten_observation(timestep.observation))
    actions.append(np.zeros(a_spec.shape, a_dtype))
    rewards.append(0.0)
    discounts.append(0.0 if terminal else 1.0)
    return stack_steps(observations, actions, rewards, discounts, terminal)


def stack_steps(observations: list[dict[str, Any]], actions: list[np.ndarray],
                rewards: list[float], discounts: list[float], terminal: bool) -> Episode:
    """Lists of per-step values (T each) -> an Episode with RLDS flags set."""
    num_steps = len(observations)
    is_first = np.zeros(num_steps, bool)
    is_first[0] = True
    is_last = np.zeros(num_steps, bool)
    is_last[-1] = True
    is_terminal = np.zeros(num_steps, bool)
    is_terminal[-1] = terminal
    obs = {k: np.stack([np.asarray(o[k]) for o in observations]) for k in observations[0]}
    return {
        "observation": {k: v.astype(observation_dtype(v.dtype)) for k, v in obs.items()},
        "action": np.stack(actions),
        "reward": np.asarray(rewards, np.float32),
        "discount": np.asarray(discounts, np.float32),
        "is_first": is_first,
        "is_last": is_last,
        "is_terminal": is_terminal,
    }


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
