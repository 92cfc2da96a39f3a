"""Recording one episode from an environment in the RLDS step layout (see `formats.episodes`)."""

from typing import Any

import dm_env
import numpy as np

from gato.data.formats.episodes import Episode, action_dtype, observation_dtype
from gato.tokenizers.timestep import flatten as flatten_observation  # the tokenizers' rule


def record_episode(env: dm_env.Environment, policy: Any, seed: int,
                   max_steps: int, noise: Any = None, store_executed: bool = False) -> Episode:
    """Runs `policy` in `env` for at most `max_steps` actions and returns the stacked Episode.

    `policy.reset(seed)` is called first; the env is expected to be freshly built with its own
    seed. Observations are cast by `observation_dtype`, actions by `action_dtype`. With `noise`
    (a `gato.policies.noise.ExecutionNoise`, reset with `seed`) the env executes noise(action)
    while the episode records the policy's own action (see that module for why), or, with
    `store_executed`, the executed one (behaviour policies of graded quality,
    `gato.data.recording.behaviours`: the return then belongs to the stored actions).
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
        executed = action if noise is None else noise(action)
        observations.append(flatten_observation(timestep.observation))
        stored = executed if store_executed else action
        actions.append(np.asarray(stored).astype(a_dtype).reshape(a_spec.shape))
        timestep = env.step(executed)
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
