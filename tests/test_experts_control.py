"""Control experts beat the random policy on short episodes; the random policy respects bounds."""

import numpy as np
import pytest

from gato.envs import registry
from gato.policies import RandomPolicy, episode_return, expert_tasks, has_expert, make_expert


@pytest.mark.parametrize("name,steps", [
    ("cartpole-swingup", 300), ("pendulum-swingup", 300), ("point_mass-easy", 200),
    ("reacher-hard", 200),
])
def test_expert_beats_random(name, steps):
    task = registry.get(name)
    env = task.make_env(3)
    expert = make_expert(name, env)
    expert.reset(3)
    expert_return = episode_return(env, expert, steps)
    random_return = episode_return(env, RandomPolicy(task.spec, 3), steps)
    assert expert_return > random_return + 0.2 * steps, (expert_return, random_return)


def test_random_policy_in_bounds():
    spec = registry.get("cheetah-run").spec
    policy = RandomPolicy(spec, seed=1)
    actions = np.stack([policy.step(None) for _ in range(100)])
    assert actions.shape == (100, 6)
    assert actions.min() >= -1.0 and actions.max() <= 1.0 and actions.std() > 0.3
    policy.reset(5)
    first = policy.step(None)
    policy.reset(5)
    np.testing.assert_array_equal(first, policy.step(None))


def test_missing_expert_error_lists_experts():
    assert has_expert("cartpole-swingup") and not has_expert("cheetah-run")
    assert "cartpole-swingup" in expert_tasks()
    with pytest.raises(KeyError, match="cartpole-swingup"):
        make_expert("cheetah-run", None)


@pytest.mark.parametrize("name", [n for n in expert_tasks() if not n.startswith("metaworld-")
                                  or n == "metaworld-reach"])  # one of 50 alike
def test_every_expert_acts_within_its_action_spec(name):
    task = registry.get(name)
    env = task.make_env(0)
    expert = make_expert(name, env)
    expert.reset(0)
    timestep = env.reset()
    for _ in range(5):
        action = np.asarray(expert.step(timestep))
        assert action.shape == task.spec.action_shape, name
        if task.spec.action_kind == "discrete":
            assert 0 <= int(action) < task.spec.num_actions
        else:
            assert np.all(action >= task.spec.action_minimum)
            assert np.all(action <= task.spec.action_maximum)
        timestep = env.step(action)
