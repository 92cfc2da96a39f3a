"""The generate section (`gato.data.recording.plan`): per-suite and per-task settings, one
`generate_datasets` call per group of identical settings, what every workflow records."""

import pytest

from gato.config import default_config, load_config
from gato.data import formats
from gato.data.formats import episodes as episodes_lib
from gato.data.recording import plan


def _generate_config(**overrides):
    g = default_config().generate
    g.tasks = "cartpole-balance,reacher-easy"
    g.episodes = 2
    g.max_episode_steps = 12
    g.action_noise = 0.5
    g.noise_correlation = 0.9
    g.workers = 1
    g.task_overrides = overrides
    return g


def _groups(section):
    return [([t.name for t in g.tasks], g.settings) for g in plan.plan(section)]


def test_overridden_tasks_form_their_own_group():
    groups = _groups(_generate_config(**{"reacher-easy": {"episodes": 3,
                                                          "max_episode_steps": 5}}))
    assert [(names, s["episodes"], s["max_episode_steps"]) for names, s in groups] == [
        (["cartpole-balance"], 2, 12), (["reacher-easy"], 3, 5)]
    assert all(s["action_noise"] == 0.5 and s["noise_correlation"] == 0.9 for _, s in groups)


def test_a_task_can_have_its_own_execution_noise():
    groups = _groups(_generate_config(**{"reacher-easy": {"action_noise": 0.0}}))
    assert [(names, s["action_noise"]) for names, s in groups] == [
        (["cartpole-balance"], 0.5), (["reacher-easy"], 0.0)]


def test_suite_settings_sit_between_the_section_and_the_task():
    g = _generate_config(**{"reacher-easy": {"episodes": 5}})
    g.tasks = "cartpole-balance,reacher-easy,pong"
    g.suite_overrides = {"atari": {"max_episode_steps": 7, "action_noise": 0.25}}
    by_task = plan.task_settings(g)
    assert by_task["pong"]["max_episode_steps"] == 7 and by_task["pong"]["action_noise"] == 0.25
    assert by_task["reacher-easy"]["episodes"] == 5 and by_task["cartpole-balance"]["episodes"] == 2


def test_default_config_gives_reachers_more_shorter_episodes():
    by_task = plan.task_settings(load_config("gato_cpu").generate)
    assert by_task["reacher-hard"]["episodes"] == by_task["reacher-easy"]["episodes"] == 100
    assert by_task["reacher-easy"]["max_episode_steps"] == 200
    assert by_task["cartpole-balance"]["max_episode_steps"] == 0  # the task's own cap
    assert by_task["cartpole-balance"]["noise_correlation"] == 0.9
    assert by_task["pong"]["max_episode_steps"] == 1000 and by_task["pong"]["action_noise"] == 0


@pytest.mark.parametrize("overrides,message", [
    ({"walker-walk": {"episodes": 3}}, "not a task of generate.tasks"),
    ({"reacher-easy": {"episodez": 3}}, "unknown keys"),
])
def test_bad_overrides_are_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        plan.plan(_generate_config(**overrides))


def test_generate_writes_each_task_with_its_own_counts(tmp_path):
    plan.record(_generate_config(**{"reacher-easy": {"episodes": 3, "max_episode_steps": 5}}),
                tmp_path)
    balance = formats.load_episodes("cartpole-balance", tmp_path)
    reacher = formats.load_episodes("reacher-easy", tmp_path)
    assert len(balance) == 2 and len(reacher) == 3
    # steps + the final observation-only step
    assert [episodes_lib.episode_length(balance[i]) for i in range(2)] == [13, 13]
    assert [episodes_lib.episode_length(reacher[i]) for i in range(3)] == [6, 6, 6]
