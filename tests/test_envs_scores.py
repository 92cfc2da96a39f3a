"""Normalization math, the reference table's coverage and the `gato tasks` listing."""

import argparse
import json

import pytest

from gato.cli import main as gato_main
from gato.envs import protocol, registry, scores
from gato.policies import expert_tasks
from gato.policies import tasks as cli


def test_normalize_known_numbers():
    assert scores.normalize(50.0, 0.0, 100.0) == 0.5
    assert scores.normalize(-20.7, -20.7, 9.3) == 0.0
    assert scores.human_normalized("pong", 9.3) == pytest.approx(1.0)
    assert scores.human_normalized("breakout", 16.75) == pytest.approx(0.5)
    for low, high in ((2.0, 2.0), (0.0, float("nan"))):
        with pytest.raises(ValueError, match="empty range"):
            scores.normalize(1.0, low, high)
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
    assert set(table) <= set(protocol.PROTOCOLS)
    for name in expert_tasks():  # under the default protocol's settings (cap1000's may match)
        scores.reference(name)
    for name, block in table.items():
        assert block["protocol"]["name"] == name
        pinned = protocol.get(name)
        for task_name, entry in block["tasks"].items():
            assert entry["environment"] == pinned.environment(registry.get(task_name)), task_name
            assert entry["episodes"] == len(entry["seeds"]) >= 5, task_name
            # random returns are skewed where a lucky episode solves the task (Meta-World's
            # drawer-close, handle-press-side): there the expert must beat random on success
            assert (entry["expert_mean"] > entry["random_mean"] + 2 * entry["random_std"]
                    or entry.get("expert_success", 0.0) >= entry.get("random_success", 1.0) + 0.5
                    ), task_name
            assert entry["measured_with"].startswith("python -m gato.policies.measure"), task_name
            assert f"--protocol {name}" in entry["measured_with"] or name == protocol.DEFAULT


def test_reference_per_protocol_and_mismatch_refused():
    """cap1000 has its own Atari references; control episodes are the same under both
    protocols; a cap nobody measured at is refused with a one-line error."""
    cap1000 = protocol.get("cap1000")
    assert scores.reference("pong", cap1000)["measured_under"] == "cap1000"
    assert scores.reference("pong")["measured_under"] == "full"
    assert scores.reference("pong", cap1000) != scores.reference("pong")
    assert scores.reference("reacher-easy", cap1000)["measured_under"] == "full"
    short = protocol.resolve("cap1000", max_steps=200)
    with pytest.raises(scores.ProtocolMismatchError) as error:
        scores.expert_normalized("breakout", 10.0, short)
    assert "\n" not in str(error.value) and "max_episode_steps=200" in str(error.value)
    sticky = protocol.get("full").replace(sticky_actions=0.25)
    with pytest.raises(scores.ProtocolMismatchError, match="sticky_actions=0.25"):
        scores.reference("pong", sticky)
    assert scores.reference("cartpole-swingup", sticky)["measured_under"] == "full"
    scores.check_human_protocol("pong", protocol.get("full"))
    with pytest.raises(scores.ProtocolMismatchError, match="human"):
        scores.check_human_protocol("pong", cap1000)


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
    assert err.startswith("gato tasks: error: ")
    assert all(s in err for s in ("atari", "control", "metaworld", "text"))
