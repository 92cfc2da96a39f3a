"""RAM-reading Atari experts score clearly above random within short episodes."""

import numpy as np
import pytest

from gato.envs import atari, registry
from gato.policies import RandomPolicy, episode_return, make_expert


@pytest.mark.parametrize("name,steps,margin", [("breakout", 400, 5.0), ("freeway", 400, 3.0)])
def test_expert_beats_random(name, steps, margin):
    spec = registry.get(name).spec
    expert_env = atari.make_env(name, seed=0)
    expert = make_expert(name, expert_env)
    expert.reset(0)
    expert_return = episode_return(expert_env, expert, steps)
    random_return = episode_return(atari.make_env(name, seed=0), RandomPolicy(spec, 0), steps)
    assert expert_return >= random_return + margin, (expert_return, random_return)


def test_expert_actions_are_valid_ids():
    env = atari.make_env("boxing", seed=0)
    expert = make_expert("boxing", env)
    expert.reset(0)
    timestep = env.reset()
    for _ in range(20):
        action = expert.step(timestep)
        assert action.dtype == np.int32 and action.shape == ()
        assert 0 <= action < env.action_spec().num_values
        timestep = env.step(action)
