"""`gato sweep`: seeds trained once each, evaluations reused, refusal before any training."""

import json

import ml_collections
import pytest

from gato.config import default_config
from gato.envs import registry, scores
from gato.eval.config import eval_protocol
from gato.results import scoring
from gato.workflows import sweep


def _config(**eval_overrides) -> ml_collections.ConfigDict:
    config = default_config()
    config.train.total_steps = 4
    config.data.data_dir = "/nowhere"
    config.eval.update({"suites": "", "tasks": "cartpole-swingup,pong", "protocol": "cap1000",
                        "episodes": 2, "bootstrap_reps": 100, **eval_overrides})
    return config


def test_sweep_trains_each_seed_once_and_aggregates(tmp_path, monkeypatch):
    trained, evaluated = [], []

    def fake_train(config, workdir):
        trained.append((config.train.seed, workdir.name))
        (workdir / "checkpoints" / str(config.train.total_steps)).mkdir(parents=True)
        return {}

    def fake_evaluate(path, config_for, out=None, step=None, reuse=False):
        config = config_for({})
        protocol = eval_protocol(config)
        evaluated.append((path.name, reuse))
        seed = int(path.name.split("_")[1])
        rows, episodes = [], {}
        for name in ("cartpole-swingup", "pong"):
            ref = scores.reference(name, protocol)
            eps = [{"seed": i, "error": None, "length": 5,
                    "return": ref["random_mean"] + (0.1 * seed + 0.05 * i) * (
                        ref["expert_mean"] - ref["random_mean"])} for i in range(2)]
            episodes[name] = eps
            rows.append(scoring.task_summary(name, registry.get(name).suite, eps, protocol))
        return {"checkpoint": str(path), "protocol": protocol.to_dict(), "tasks": rows,
                "episodes": episodes}

    import gato.eval.evaluator
    import gato.train

    monkeypatch.setattr(gato.train, "train_and_evaluate", fake_train)
    monkeypatch.setattr(gato.eval.evaluator, "evaluate_checkpoint", fake_evaluate)
    summary = sweep.sweep(_config(), [0, 1, 2], tmp_path, "test")
    assert trained == [(0, "seed_0"), (1, "seed_1"), (2, "seed_2")]
    assert all(reuse for _, reuse in evaluated)
    assert summary["unit"] == "run" and len(summary["runs"]) == 3
    assert summary["groups"]["all"]["metrics"]["mean"]["value"] == pytest.approx(0.125)
    saved = json.loads((tmp_path / "aggregate" / "aggregate.json").read_text())
    assert len(saved["runs"]) == 3
    sweep.sweep(_config(), [0, 1, 2, 3], tmp_path, "test")  # resumed with one more seed
    assert [seed for seed, _ in trained] == [0, 1, 2, 3]


def test_sweep_refuses_protocol_mismatch_before_training(tmp_path, monkeypatch):
    import gato.train

    monkeypatch.setattr(gato.train, "train_and_evaluate", lambda *a: pytest.fail("trained"))
    with pytest.raises(scores.ProtocolMismatchError, match="cannot normalize"):
        sweep.sweep(_config(max_steps=30), [0], tmp_path, "test")


def test_parse_seeds():
    assert sweep.parse_seeds("0, 1,2") == [0, 1, 2]
    for bad in ("", "0,0", "a,b"):
        with pytest.raises(ValueError, match="--seeds"):
            sweep.parse_seeds(bad)
