"""Every registered environment task builds, resets and steps, and matches its declared spec."""

import numpy as np
import pytest

from gato.envs import registry
from gato.policies import RandomPolicy

# Meta-World's 50 tasks share one spec and each compiles a MuJoCo model: one stands for all here
# (tests/test_metaworld.py checks the task list against metaworld's).
ENV_TASKS = [t.name for t in registry.all_tasks() if t.make_env is not None
             and (t.suite != "metaworld" or t.name == "metaworld-reach")]


def _flatten(obs, prefix=""):
    out = {}
    for key, value in obs.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, path + "/"))
        else:
            out[path] = np.asarray(value)
    return out


def _check_observation(spec, obs):
    flat = _flatten(obs)
    assert sorted(flat) == spec.observation_keys
    for key, kind in spec.observation.items():
        value = flat[key]
        if kind == "image":
            assert value.dtype == np.uint8 and value.ndim == 3 and value.shape[2] in (1, 3), key
            assert value.shape[0] % 16 == 0 and value.shape[1] % 16 == 0, value.shape
        elif kind == "continuous":
            assert np.issubdtype(value.dtype, np.floating), (key, value.dtype)
            assert np.all(np.isfinite(value)), key


@pytest.mark.parametrize("name", ENV_TASKS)
def test_task_matches_real_env(name):
    task = registry.get(name)
    spec = task.spec
    env = task.make_env(0)
    action_spec = env.action_spec()
    assert tuple(action_spec.shape) == spec.action_shape
    if spec.action_kind == "discrete":
        assert np.issubdtype(action_spec.dtype, np.integer)
        assert action_spec.num_values == spec.num_actions
    else:
        np.testing.assert_allclose(action_spec.minimum, spec.action_minimum)
        np.testing.assert_allclose(action_spec.maximum, spec.action_maximum)
    assert sorted(_flatten(env.observation_spec())) == spec.observation_keys
    timestep = env.reset()
    assert timestep.first()
    _check_observation(spec, timestep.observation)
    policy = RandomPolicy(spec, seed=0)
    for _ in range(3):
        timestep = env.step(policy.step(timestep))
        _check_observation(spec, timestep.observation)
        assert np.isfinite(timestep.reward)
    assert task.max_episode_steps > 0


def test_text_task_has_no_env():
    task = registry.get("pydocs")
    assert task.suite == "text" and task.spec is None and task.make_env is None


def test_bad_names_list_what_exists():
    with pytest.raises(KeyError, match="cartpole-swingup"):
        registry.get("cartpole-swingdown")
    with pytest.raises(KeyError, match="control"):
        registry.suite("no-such-suite")
