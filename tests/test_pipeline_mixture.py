"""Task mixture weights and host sharding."""

import numpy as np
import pytest

from gato.data.pipeline import mixture
from gato.data.pipeline.examples import ExampleMaker, TaskData
from gato.testing import pipeline as fakes

TASKS = [("cheetah", "control"), ("walker", "control"), ("pong", "atari"), ("pydocs", "text")]


def test_probabilities_split_suite_weights_among_tasks():
    probs = mixture.task_probabilities(TASKS, {"control": 2.0, "atari": 1.0, "text": 1.0},
                                       {"walker": 3.0})
    np.testing.assert_allclose(probs, [0.125, 0.375, 0.25, 0.25])
    np.testing.assert_allclose(mixture.task_probabilities(TASKS), [1 / 6, 1 / 6, 1 / 3, 1 / 3])


@pytest.mark.parametrize("suites, tasks, message", [
    ({"control": -1.0}, None, ">= 0"), (None, {"breakout": 1.0}, "breakout"),
    ({"control": 0.0, "atari": 0.0, "text": 0.0}, None, "zero"),
])
def test_bad_weights_are_named(suites, tasks, message):
    with pytest.raises(ValueError, match=message):
        mixture.task_probabilities(TASKS, suites, tasks)


def test_empirical_task_frequencies_match_weights():
    tasks = fakes.fake_tasks(32, episodes=3)
    probs = mixture.task_probabilities([(t.name, t.suite) for t in tasks],
                                       {"control": 2.0, "atari": 1.0, "text": 1.0}, {"run": 3.0})
    maker = ExampleMaker(tasks, probs, 32, seed=3, prompt_fraction=0.0)
    n = 800
    counts = np.bincount([int(maker(i)["task_id"]) for i in range(n)], minlength=len(tasks))
    sd = np.sqrt(probs * (1 - probs) / n)
    assert (np.abs(counts / n - probs) <= 4 * sd).all(), (counts / n, probs)


def test_hosts_read_disjoint_episodes():
    reads = []
    for host in range(2):
        source = fakes.RecordingSource(fakes.control_episodes(10, seed=0))
        task = TaskData("walk", "control", fakes.CONTROL_SPEC, source)
        maker = ExampleMaker([task], np.ones(1), 48, seed=0, process_index=host, process_count=2)
        for i in range(60):
            maker(i)
        reads.append(set(source.read))
    assert reads[0] and reads[1] and not reads[0] & reads[1]
    assert reads[0] | reads[1] == set(range(10))


def test_too_few_episodes_for_hosts_is_an_error():
    task = TaskData("walk", "control", fakes.CONTROL_SPEC, fakes.control_episodes(1))
    with pytest.raises(ValueError, match="'walk'.*host 1 of 2"):
        ExampleMaker([task], np.ones(1), 48, seed=0, process_index=1, process_count=2)


def test_max_episodes_limits_the_episodes_read():
    source = fakes.RecordingSource(fakes.control_episodes(10, seed=0))
    task = TaskData("walk", "control", fakes.CONTROL_SPEC, source, max_episodes=3)
    maker = ExampleMaker([task], np.ones(1), 48, seed=0)
    for i in range(30):
        maker(i)
    assert set(source.read) == {0, 1, 2}
