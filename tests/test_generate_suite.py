"""`gato generate --suite S` picks the suite's tasks that can make the requested data."""

import pytest

from gato.data.recording.generate import _tasks_to_generate
from gato.policies import has_expert


def test_suite_with_experts_skips_tasks_without_one():
    names = [t.name for t in _tasks_to_generate("control,atari", None, "expert")]
    assert "cartpole-swingup" in names and "pong" in names
    assert "acrobot-swingup" not in names
    assert all(has_expert(n) for n in names)


def test_random_policy_keeps_every_environment_task_and_named_tasks_stay():
    names = [t.name for t in _tasks_to_generate("control", "pong", "random")]
    assert {"acrobot-swingup", "cartpole-swingup", "pong"} <= set(names)
    assert "pydocs" not in names


def test_nothing_named_is_an_error():
    with pytest.raises(ValueError, match="nothing to generate"):
        _tasks_to_generate(None, None, "expert")
