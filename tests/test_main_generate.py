"""`gato main` step 1: the config's generate section, with per-task episode overrides."""

import ml_collections
import pytest

from gato import main
from gato.data import formats
from gato.data.formats import episodes as episodes_lib
from gato.train.config import load_config


def _generate_config(**overrides) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict({
        "control_tasks": "cartpole-balance,reacher-easy", "atari_tasks": "",
        "control_episodes": 2, "control_max_episode_steps": 12, "atari_episodes": 1,
        "atari_max_episode_steps": 10, "control_action_noise": 0.5,
        "control_noise_correlation": 0.9, "atari_action_noise": 0.0, "workers": 1, "seed": 0,
        "task_overrides": ml_collections.ConfigDict(overrides)})


def test_overridden_tasks_form_their_own_group():
    groups = main.generation_groups(_generate_config(
        **{"reacher-easy": {"episodes": 3, "max_episode_steps": 5}}))
    assert [([t.name for t in g["tasks"]], g["episodes"], g["max_episode_steps"])
            for g in groups] == [(["cartpole-balance"], 2, 12), (["reacher-easy"], 3, 5)]
    assert all(g["action_noise"] == 0.5 and g["noise_correlation"] == 0.9 for g in groups)


def test_a_task_can_have_its_own_execution_noise():
    groups = main.generation_groups(_generate_config(
        **{"reacher-easy": {"action_noise": 0.0}}))
    assert [([t.name for t in g["tasks"]], g["action_noise"]) for g in groups] == [
        (["cartpole-balance"], 0.5), (["reacher-easy"], 0.0)]


def test_default_config_gives_reachers_more_shorter_episodes():
    g = load_config("experiments/gato_cpu.py").generate
    by_task = {t.name: (grp["episodes"], grp["max_episode_steps"])
               for grp in main.generation_groups(g) for t in grp["tasks"]}
    assert by_task["reacher-hard"] == by_task["reacher-easy"] == (100, 200)
    assert by_task["cartpole-balance"] == (g.control_episodes, None)  # the task's own cap
    assert by_task["pong"] == (g.atari_episodes, g.atari_max_episode_steps)


@pytest.mark.parametrize("overrides,message", [
    ({"walker-walk": {"episodes": 3}}, "not in generate.control_tasks"),
    ({"reacher-easy": {"episodez": 3}}, "unknown keys"),
])
def test_bad_overrides_are_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        main.generation_groups(_generate_config(**overrides))


def test_generate_writes_each_task_with_its_own_counts(tmp_path):
    config = ml_collections.ConfigDict({"generate": _generate_config(
        **{"reacher-easy": {"episodes": 3, "max_episode_steps": 5}})})
    main.generate(config, tmp_path)
    balance = formats.load_episodes("cartpole-balance", tmp_path)
    reacher = formats.load_episodes("reacher-easy", tmp_path)
    assert len(balance) == 2 and len(reacher) == 3
    # steps + the final observation-only step
    assert [episodes_lib.episode_length(balance[i]) for i in range(2)] == [13, 13]
    assert [episodes_lib.episode_length(reacher[i]) for i in range(3)] == [6, 6, 6]
