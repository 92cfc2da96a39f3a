"""Meta-World suite: dm_env conformance, spec, seeded goals, experts, recording, task sets."""

import argparse
import json

import numpy as np
import pytest
from absl.testing import absltest
from dm_env import test_utils

from gato.data import formats
from gato.data.recording import staging
from gato.data.recording.generate import generate_datasets
from gato.envs import metaworld as mw
from gato.envs import registry
from gato.policies import RandomPolicy, has_expert, make_expert
from gato.policies import tasks as cli

REACH = "metaworld-reach"
HELD_OUT = {"metaworld-bin-picking", "metaworld-box-close", "metaworld-hand-insert",
            "metaworld-door-lock", "metaworld-door-unlock"}


class MetaWorldConformanceTest(test_utils.EnvironmentTestMixin, absltest.TestCase):
    """dm_env's own conformance checks (reset, step, specs) on one task."""

    def make_object_under_test(self):
        return registry.get(REACH).make_env(0)


def _goal(timestep) -> np.ndarray:
    return np.asarray(timestep.observation["state"][-3:])


def test_every_metaworld_task_is_registered_with_an_expert():
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS
    from metaworld.policies import ENV_POLICY_MAP

    assert tuple(ALL_V3_ENVIRONMENTS) == mw.METAWORLD_IDS
    tasks = registry.suite("metaworld")
    assert len(tasks) == 50 and set(ENV_POLICY_MAP) >= set(mw.METAWORLD_IDS)
    for task in tasks:
        assert task.spec == mw.SPEC and task.max_episode_steps == 500 and has_expert(task.name)
    assert registry.get("metaworld-assembly").make_env.args == ("metaworld-assembly",)


def test_spec_matches_the_real_env():
    task = registry.get("metaworld-assembly")
    env = task.make_env(0)
    assert env.observation_spec()["state"].shape == (39,)
    action_spec = env.action_spec()
    assert action_spec.shape == task.spec.action_shape == (4,)
    np.testing.assert_array_equal(action_spec.minimum, task.spec.action_minimum)
    np.testing.assert_array_equal(action_spec.maximum, task.spec.action_maximum)
    timestep = env.reset()
    policy = RandomPolicy(task.spec, 0)
    for _ in range(3):
        assert timestep.observation["state"].shape == (39,)
        assert np.all(np.isfinite(timestep.observation["state"]))
        timestep = env.step(policy.step(timestep))
        assert 0.0 <= timestep.reward <= 10.0


def test_goals_repeat_for_a_seed_and_differ_across_seeds_and_episodes():
    first = mw.make_env(REACH, 3)
    goals = [_goal(first.reset()), _goal(first.reset())]
    again = mw.make_env(REACH, 3)
    np.testing.assert_array_equal(_goal(again.reset()), goals[0])
    np.testing.assert_array_equal(_goal(again.reset()), goals[1])
    other = _goal(mw.make_env(REACH, 4).reset())
    assert not np.allclose(goals[0], goals[1]) and not np.allclose(goals[0], other)


def test_scripted_policy_solves_reach_and_episode_is_500_steps():
    env = mw.make_env(REACH, 11)
    expert = make_expert(REACH, env)
    expert.reset(11)
    timestep, steps, solved_at = env.reset(), 0, None
    assert not env.success
    while not timestep.last():
        timestep = env.step(expert.step(timestep))
        steps += 1
        if env.success and solved_at is None:
            solved_at = steps
    assert steps == 500 and timestep.discount == 1.0  # truncation, not termination
    assert solved_at is not None and solved_at < 200 and env.success
    env.reset()
    assert not env.success


def test_recorded_episodes_replay_to_the_same_returns(tmp_path):
    """Through the recording path (staged shards -> RLDS): expert episodes and DART-noised ones
    (executed actions stored) give back their rewards when replayed from the episode's seed."""
    task = registry.get(REACH)
    generate_datasets([task], tmp_path, episodes=0, max_episode_steps=60, shard_size=1,
                      behaviours="expert:1,noisy0.3:1")
    source = formats.load_episodes(REACH, tmp_path)
    assert len(source) == 2
    policies = set()
    for i in range(2):
        episode, meta = source[i], source.metadata(i)
        policies.add(meta["policy"])
        env = task.make_env(meta["seed"])
        env.reset()
        rewards = [env.step(a).reward for a in episode["action"][:-1]]
        assert episode["observation"]["state"].shape == (61, 39)
        np.testing.assert_allclose(rewards, episode["reward"][:-1], rtol=1e-5, atol=1e-5)
    assert len(policies) == 2


def test_evaluation_seeds_are_not_training_seeds():
    """The reference table's episodes (seeds 0..9) never meet the generator's episode seeds."""
    seeds = {staging.episode_seed(0, name, i) for name in mw.TASK_IDS for i in range(200)}
    assert seeds.isdisjoint(range(1000))


def test_named_task_sets(capsys):
    mt10 = registry.task_set("MT10")
    assert len(mt10) == 10 and REACH in mt10 and registry.task_set("mt10") == mt10
    assert len(registry.task_set("MT50")) == 50
    train, test = registry.task_set("ML45-train"), registry.task_set("ml45-test")
    assert len(train) == 45 and set(test) == HELD_OUT and not set(train) & set(test)
    chosen = registry.select(None, "mt10,cartpole-swingup")
    assert {t.name for t in chosen} == set(mt10) | {"cartpole-swingup"}
    registry.require_in_set("ML45-train", "metaworld-assembly,metaworld-reach")
    assert "MT10" in [s.name for s in registry.task_sets()]
    assert cli.run(argparse.Namespace(suite=None, tasks=None, json=True, sets=True)) == 0
    listed = {r["task_set"]: r["tasks"] for r in map(json.loads,
                                                     capsys.readouterr().out.splitlines())}
    assert listed["ML45-test"] == test and listed["MT10"] == mt10


def test_bad_input_is_a_one_line_error():
    errors = []
    for call, kind in ((lambda: registry.get("metaworld-juggle"), KeyError),
                       (lambda: mw.make_env("metaworld-juggle", 0), KeyError),
                       (lambda: registry.task_set("MT11"), KeyError),
                       (lambda: registry.select(None, "mt11"), KeyError),
                       (lambda: registry.require_in_set("ML45-train", "metaworld-door-lock"),
                        ValueError)):
        with pytest.raises(kind) as error:
            call()
        errors.append(str(error.value))
    assert all("\n" not in e for e in errors)
    assert "metaworld-juggle" in errors[1] and "metaworld-assembly" in errors[1]
    assert "MT10" in errors[2] and "ML45-test" in errors[2]
    assert "metaworld-door-lock" in errors[4] and "ML45-train" in errors[4]
