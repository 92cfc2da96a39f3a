"""The in-training evaluator registry: config entries -> scheduled evaluators in the train loop."""

import pytest

from gato.testing import train as testing
from gato.train import evaluators
from gato.train.loop import train_and_evaluate


class _Counter:
    calls: list[int] = []

    def __init__(self, config, options, workdir):
        del config, workdir
        self.scale = float(options.get("scale", 1.0))

    def run(self, params, step):
        del params
        _Counter.calls.append(step)
        return {"count/step": self.scale * step}


evaluators.register("test-counter")(_Counter)


def test_loop_runs_each_evaluator_at_its_period_and_writes_its_metrics(tmp_path):
    _Counter.calls = []
    config = testing.tiny_config("train.total_steps=4", "train.log_every=1")
    config.evaluators = {"counter": {"type": "test-counter", "every": 2,
                                     "options": {"scale": 10.0}}}
    train_and_evaluate(config, tmp_path)
    assert _Counter.calls == [2, 4]
    rows = [r for r in testing.read_jsonl(tmp_path / "metrics.jsonl") if "count/step" in r]
    assert [(r["step"], r["count/step"]) for r in rows] == [(2, 20.0), (4, 40.0)]


@pytest.mark.parametrize("entry, message", [
    ({"type": "no-such-type", "every": 1}, "unknown evaluator type 'no-such-type'"),
    ({"type": "test-counter", "every": 0}, "every must be an integer >= 1"),
    ({"type": "test-counter"}, "every must be an integer >= 1"),
    ({"every": 3}, "'type' required"),
    ({"type": "test-counter", "every": 1, "period": 2}, "expected keys"),
])
def test_bad_entries_are_refused_with_the_entry_named(tmp_path, entry, message):
    config = testing.tiny_config()
    config.evaluators = {"bad": entry}
    with pytest.raises(ValueError, match=message):
        evaluators.build(config, tmp_path)


def test_types_register_through_their_own_modules(tmp_path):
    config = testing.tiny_config()
    config.evaluators = {"nap": {"type": "gato.testing.train:sleep", "every": 3,
                                 "options": {"seconds": 0.0}}}
    [scheduled] = evaluators.build(config, tmp_path)
    assert scheduled.evaluator.run(None, 3) == {}
    from gato.eval import register_evaluators

    register_evaluators()
    assert {"rollout", "offline", "text"} <= set(evaluators._REGISTRY)
