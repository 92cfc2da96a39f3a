"""Meta-World experts: metaworld's own scripted policies (`metaworld.policies.ENV_POLICY_MAP`).

Each is a hand-written state machine over the 39-float observation (move above the object, grasp,
carry to the goal read from the observation's last three values). They are deterministic
functions of the observation, so `reset(seed)` has nothing to do; DART execution noise
(`gato.policies.noise`, Gaussian for these continuous actions) is added by the recorder, not
here. Actions are float32 [4] clipped to [-1, 1], the env's bounds.
"""

import dm_env
import numpy as np

from gato.envs.metaworld import TASK_IDS


class MetaWorldExpert:
    """The scripted policy of one Meta-World task (`metaworld_id`, e.g. "assembly-v3")."""

    def __init__(self, metaworld_id: str):
        from metaworld.policies import ENV_POLICY_MAP

        self._policy = ENV_POLICY_MAP[metaworld_id]()

    def reset(self, seed: int) -> None:
        del seed  # deterministic

    def step(self, timestep: dm_env.TimeStep) -> np.ndarray:
        action = self._policy.get_action(np.asarray(timestep.observation["state"]))
        return np.clip(np.asarray(action, np.float32), -1.0, 1.0)


def _factory(metaworld_id: str):
    def make(env: dm_env.Environment) -> MetaWorldExpert:
        del env  # the policy reads only the observation
        return MetaWorldExpert(metaworld_id)
    return make


EXPERTS = {name: _factory(mw_id) for name, mw_id in TASK_IDS.items()}
