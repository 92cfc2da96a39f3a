"""Normalization math, the reference table's coverage and the `gato tasks` listing."""

import argparse
import json

import pytest

from gato.cli import main as gato_main
from gato.envs import cli, registry, scores
from gato.policies import expert_tasks


def test_normalize_known_numbers():
    assert scores.normalize(50.0, 0.0, 100.0) == 0.5
    assert scores.normalize(-20.7, -20.7, 9.3) == 0.0
    assert scores.human_normalized("pong", 9.3) == pytest.approx(1.0)
    assert scores.human_normalized("breakout", 16.75) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="equal"):
        scores.normalize(1.0, 2.0, 2.0)
    with pytest.raises(KeyError, match="pong"):
        scores.human_normalized("cartpole-swingup", 1.0)


def test_expert_normalized_uses_the_table():
    ref = scores.reference("cartpole-swingup")
    assert scores.expert_normalized("cartpole-swingup", ref["expert_mean"]) == pytest.approx(1.0)
    assert scores.expert_normalized("cartpole-swingup", ref["random_mean"]) == pytest.approx(0.0)
    with pytest.raises(KeyError, match="cartpole-swingup"):
        scores.reference("no-such-task")


def test_table_covers_every_expert_and_experts_beat_random():
    table = scores.load_table()
    assert set(expert_tasks()) <= set(table)
    for name in expert_tasks():
        entry = table[name]
        assert entry["max_episode_steps"] == registry.get(name).max_episode_steps, name
        assert entry["episodes"] == len(entry["seeds"]) >= 5, name
        assert entry["expert_mean"] > entry["random_mean"] + 2 * entry["random_std"], name
        assert entry["measured_with"].startswith("python -m gato.envs.measure"), name


def test_human_table_covers_atari_suite():
    assert {t.name for t in registry.suite("atari")} <= set(scores.ATARI_HUMAN_RANDOM)


def test_gato_tasks_lists_specs(capsys):
    args = argparse.Namespace(suite="control", tasks="pong", json=True)
    assert cli.run(args) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_name = {r["name"]: r for r in rows}
    assert by_name["pong"]["action"] == "discrete[6]" and by_name["pong"]["expert"]
    assert by_name["cheetah-run"]["observation"] == {"position": "continuous",
                                                      "velocity": "continuous"}
    assert gato_main(["tasks", "--suite", "nope"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gato tasks: error: ") and "atari, control, text" in err
