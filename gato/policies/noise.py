"""Execution noise for recording demonstrations (DART, Laskey et al. 2017).

A deterministic expert visits a narrow band of states: once a cart-pole is balanced or a reacher
sits on its target, every later step repeats the same near-zero action, and a cloned policy that
drifts slightly off that band has never seen how the expert recovers. Recording with noise fixes
this: the environment executes a perturbed action, while the episode stores the expert's own
action for the state it reached (the label a cloning learner should imitate). The data then covers
the states around the expert's path, each labelled with the expert's correction.

Continuous actions get Gaussian noise of standard deviation `scale` x half the action range,
clipped to the bounds; discrete actions are replaced by a uniform random action with probability
`scale`. With `correlation` rho > 0 the continuous noise is an AR(1) process in time,
n_t = rho n_{t-1} + sqrt(1 - rho^2) e_t (same std, correlation time ~ 1 / (1 - rho) steps).
Independent noise averages out in systems that integrate their actions: under i.i.d. noise of
half the action range the pendulum expert still returns 948 (as without noise), i.e. it never
leaves its path; with rho = 0.9 it returns 581, the sustained pushes reach the states a drifting
clone reaches (spinning too fast) and record how the expert recovers from them.
"""

import numpy as np

from gato.policies.base import action_bounds
from gato.tokenizers.spec import TimestepSpec


class ExecutionNoise:
    """Maps the action a policy chose to the action the environment executes."""

    def __init__(self, spec: TimestepSpec, scale: float, seed: int = 0,
                 correlation: float = 0.0):
        if spec is None:
            raise ValueError("ExecutionNoise needs a TimestepSpec; text tasks have no actions")
        if not 0.0 <= scale <= (1.0 if spec.action_kind == "discrete" else np.inf):
            raise ValueError(f"action noise scale must be >= 0 (and <= 1 for discrete actions, "
                             f"a probability), got {scale}")
        if not 0.0 <= correlation < 1.0:
            raise ValueError(f"action noise correlation must be in [0, 1), got {correlation}")
        if correlation and spec.action_kind == "discrete":
            raise ValueError("action noise correlation applies to continuous actions only")
        self.spec, self.scale, self.correlation = spec, float(scale), float(correlation)
        self._rng = np.random.default_rng(seed)
        self._state: np.ndarray | None = None  # AR(1) noise of the previous step, unit std
        if spec.action_kind != "discrete":
            self._lo, self._hi = action_bounds(spec)

    def reset(self, seed: int) -> None:
        """Restarts the noise stream for the episode of `seed` (independent of the policy's)."""
        self._rng = np.random.default_rng((seed, 1))
        self._state = None

    def __call__(self, action: np.ndarray) -> np.ndarray:
        """The executed action, shaped and typed like `action`."""
        action = np.asarray(action)
        if self.scale == 0.0:
            return action
        if self.spec.action_kind == "discrete":
            replace = self._rng.random(action.shape) < self.scale
            random = self._rng.integers(0, self.spec.num_actions, size=action.shape)
            return np.where(replace, random, action).astype(action.dtype)
        std = self.scale * (self._hi - self._lo) / 2.0
        fresh = self._rng.normal(size=action.shape)
        if self._state is None or self.correlation == 0.0:
            self._state = fresh
        else:
            rho = self.correlation
            self._state = rho * self._state + np.sqrt(1.0 - rho * rho) * fresh
        noisy = action + self._state * std
        return np.clip(noisy, self._lo, self._hi).astype(action.dtype)
