"""The policy interface: observation in, action out (acme's actor, reduced to what we use)."""

from typing import Protocol, runtime_checkable

import dm_env
import numpy as np

from gato.tokenizers.spec import TimestepSpec


@runtime_checkable
class Policy(Protocol):
    """Maps each timestep of an episode to an action.

    `reset(seed)` is called before every episode; `step(timestep)` returns the action for the
    observation in `timestep` (a numpy array shaped like the task's action spec: int for discrete
    actions, float for continuous ones).
    """

    def reset(self, seed: int) -> None: ...

    def step(self, timestep: dm_env.TimeStep) -> np.ndarray: ...


def action_bounds(spec: TimestepSpec) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) float64 arrays of spec.action_shape for continuous actions; [-1, 1] where the
    spec has no bounds."""
    lo = -1.0 if spec.action_minimum is None else spec.action_minimum
    hi = 1.0 if spec.action_maximum is None else spec.action_maximum
    return (np.broadcast_to(np.asarray(lo, np.float64), spec.action_shape),
            np.broadcast_to(np.asarray(hi, np.float64), spec.action_shape))


def episode_return(env: dm_env.Environment, policy: Policy, max_steps: int) -> float:
    """Undiscounted return of one episode of `policy` in `env`, from a fresh `env.reset()`,
    cut after `max_steps` actions. The caller resets the policy."""
    timestep, total = env.reset(), 0.0
    for _ in range(max_steps):
        timestep = env.step(policy.step(timestep))
        total += float(timestep.reward or 0.0)
        if timestep.last():
            break
    return total
