"""Execution noise (DART): the env runs perturbed actions, episodes keep the policy's own."""

import numpy as np
import pytest

from gato.data.recording import jobs, record, staging
from gato.envs import registry
from gato.policies.noise import ExecutionNoise
from gato.tokenizers.spec import TimestepSpec

CONTINUOUS = TimestepSpec({"x": "continuous"}, "continuous", (2,), action_minimum=(-1.0, 0.0),
                          action_maximum=(1.0, 2.0))
DISCRETE = TimestepSpec({"x": "continuous"}, "discrete", (1,), num_actions=6)


def test_continuous_noise_has_its_scale_and_stays_in_bounds():
    noise = ExecutionNoise(CONTINUOUS, 0.1, seed=0)
    center = np.array([0.0, 1.0])
    draws = np.stack([noise(center) for _ in range(4000)])
    assert draws.shape == (4000, 2) and draws.dtype == center.dtype
    np.testing.assert_allclose(draws.std(0), [0.1, 0.1], rtol=0.1)  # half ranges are both 1
    wide = ExecutionNoise(CONTINUOUS, 3.0, seed=1)
    edge = np.stack([wide(np.array([1.0, 2.0])) for _ in range(200)])
    assert np.all(edge >= [-1.0, 0.0]) and np.all(edge <= [1.0, 2.0])
    assert np.any(edge[:, 0] == 1.0) and np.any(edge[:, 0] < 1.0)


def test_correlated_noise_keeps_its_scale_and_has_its_lag_one_correlation():
    noise = ExecutionNoise(CONTINUOUS, 0.1, correlation=0.9)
    noise.reset(5)
    draws = np.stack([noise(np.array([0.0, 1.0])) for _ in range(20000)]) - [0.0, 1.0]
    np.testing.assert_allclose(draws.std(0), [0.1, 0.1], rtol=0.1)
    lag1 = [np.corrcoef(draws[:-1, i], draws[1:, i])[0, 1] for i in range(2)]
    np.testing.assert_allclose(lag1, [0.9, 0.9], atol=0.03)
    plain = ExecutionNoise(CONTINUOUS, 0.1)
    plain.reset(5)
    iid = np.stack([plain(np.zeros(2) + [0.0, 1.0]) for _ in range(5000)])[:, 0]
    assert abs(np.corrcoef(iid[:-1], iid[1:])[0, 1]) < 0.05
    noise.reset(5)  # a new episode starts a fresh process: the same draws again
    np.testing.assert_array_equal(noise(np.array([0.0, 1.0])) - [0.0, 1.0], draws[0])
    with pytest.raises(ValueError, match="correlation"):
        ExecutionNoise(CONTINUOUS, 0.1, correlation=1.0)
    with pytest.raises(ValueError, match="continuous actions only"):
        ExecutionNoise(DISCRETE, 0.1, correlation=0.5)


def test_discrete_noise_replaces_with_its_probability():
    noise = ExecutionNoise(DISCRETE, 0.25, seed=0)
    draws = np.stack([noise(np.array([5])) for _ in range(4000)])[:, 0]
    # a replacement draws 5 again with probability 1/6
    assert abs(np.mean(draws != 5) - 0.25 * 5 / 6) < 0.03
    assert set(np.unique(draws)) == set(range(6))


def test_zero_scale_is_the_identity_and_bad_scales_fail():
    action = np.array([0.3, 1.7])
    assert ExecutionNoise(CONTINUOUS, 0.0)(action) is action
    with pytest.raises(ValueError, match="noise scale"):
        ExecutionNoise(CONTINUOUS, -0.1)
    with pytest.raises(ValueError, match="noise scale"):
        ExecutionNoise(DISCRETE, 1.5)


class _Zero:
    """Always the zero action: what is recorded must stay zero whatever the env executed."""

    def reset(self, seed: int) -> None:
        pass

    def step(self, timestep):
        return np.zeros(1)


def test_recorded_actions_are_the_policys_while_the_env_is_perturbed():
    task = registry.get("cartpole-balance")

    def record_with(noise):
        env = task.make_env(3)
        try:
            return record.record_episode(env, _Zero(), 3, 30, noise)
        finally:
            env.close()

    clean, noisy = record_with(None), record_with(ExecutionNoise(task.spec, 0.5))
    np.testing.assert_array_equal(noisy["action"], 0.0)
    np.testing.assert_array_equal(clean["observation"]["position"][0],
                                  noisy["observation"]["position"][0])
    assert not np.allclose(clean["observation"]["velocity"][5:],
                           noisy["observation"]["velocity"][5:])
    again = record_with(ExecutionNoise(task.spec, 0.5))  # noise is seeded by the episode seed
    np.testing.assert_array_equal(again["observation"]["velocity"],
                                  noisy["observation"]["velocity"])


def test_noisy_runs_are_staged_apart_and_labelled(tmp_path):
    plain = jobs.make_run_config("cartpole-swingup", tmp_path, 1, "random", 0, 5, 1)
    noisy = jobs.make_run_config("cartpole-swingup", tmp_path, 1, "random", 0, 5, 1, 0.2)
    assert plain.directory != noisy.directory
    jobs.ensure_shards([noisy], workers=1)
    _, metadata = staging.read_shard(noisy.shards()[0])
    assert metadata[0]["policy"] == "random+execution_noise=0.2"
    with pytest.raises(ValueError, match="action_noise"):
        jobs.make_run_config("cartpole-swingup", tmp_path, 1, "random", 0, 5, 1, -1.0)
    correlated = jobs.make_run_config("cartpole-swingup", tmp_path, 1, "random", 0, 5, 1,
                                            0.2, 0.9)
    assert correlated.directory not in (plain.directory, noisy.directory)
    jobs.ensure_shards([correlated], workers=1)
    _, metadata = staging.read_shard(correlated.shards()[0])
    assert metadata[0]["policy"] == "random+execution_noise=0.2,correlation=0.9"
    with pytest.raises(ValueError, match="needs action_noise"):
        jobs.make_run_config("cartpole-swingup", tmp_path, 1, "random", 0, 5, 1, 0.0, 0.9)
    with pytest.raises(ValueError, match="noise_correlation must be"):
        jobs.make_run_config("cartpole-swingup", tmp_path, 1, "random", 0, 5, 1, 0.2, 1.0)
    # discrete actions keep independent noise: one config for a mixed control + Atari run
    pong = [jobs.make_run_config("pong", tmp_path, 1, "random", 0, 5, 1, 0.2, rho)
            for rho in (0.0, 0.9)]
    assert pong[0] == pong[1]
