"""The uniform random policy: the floor of expert-normalized scores."""

import dm_env
import numpy as np

from gato.policies.base import action_bounds
from gato.tokenizers.spec import TimestepSpec


class RandomPolicy:
    """Actions drawn uniformly from the action space of `spec`.

    Discrete: int32 ids in [0, num_actions) with shape spec.action_shape. Continuous: float64
    uniform in [action_minimum, action_maximum] (or [-1, 1] when the spec has no bounds).
    """

    def __init__(self, spec: TimestepSpec, seed: int = 0):
        if spec is None:
            raise ValueError("RandomPolicy needs a TimestepSpec; text tasks have no actions")
        self.spec = spec
        self._rng = np.random.default_rng(seed)

    def reset(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def step(self, timestep: dm_env.TimeStep) -> np.ndarray:
        spec = self.spec
        if spec.action_kind == "discrete":
            return self._rng.integers(0, spec.num_actions, size=spec.action_shape, dtype=np.int32)
        return self._rng.uniform(*action_bounds(spec))
