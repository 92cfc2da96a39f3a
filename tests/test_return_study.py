"""`gato return-study` end to end on a tiny setting: mixed data, three arms, sweep, report."""

import json

import numpy as np
import pytest

from gato import cli
from gato.config import load_config
from gato.results import return_report
from gato.workflows.return_study import arm_config


def test_arm_configs_differ_only_in_filter_and_return_tokens():
    config = load_config("experiments/return_conditioned.py:tiny")
    bc, filtered, returns = (arm_config(config, a) for a in ("bc", "filtered", "returns"))
    assert bc.to_dict() == config.to_dict()
    assert filtered.data.filter.top_fraction == config.study.top_fraction < 1.0
    assert returns.data.returns.enabled and returns.model.overrides.return_tokens
    assert not bc.data.returns.enabled and not filtered.model.overrides.return_tokens
    for arm in (filtered, returns):
        arm.data.filter.top_fraction = 1.0
        arm.data.returns.enabled = arm.model.overrides.return_tokens = False
        assert arm.to_dict() == bc.to_dict()
    with pytest.raises(ValueError, match="study arm"):
        arm_config(config, "dt")


def test_bootstrap_interval_and_table():
    mean, low, high = return_report.mean_interval([1.0, 2.0, 3.0, 4.0], 1000)
    assert mean == 2.5 and 1.0 <= low < 2.5 < high <= 4.0
    assert np.isnan(return_report.mean_interval([])[0])
    manifest = {"returns": {"mean": 10.0}, "policies": {
        "a": {"returns": {"mean": 12.0}}, "b": {"returns": {"mean": 8.0}}}}
    episodes = [{"return": 11.0, "seed": 0}, {"return": 13.0, "seed": 1},
                {"return": 99.0, "seed": 2, "error": "crashed"}]
    arms = {"x": {"episodes": {"cartpole-swingup": episodes}}, "y": {"episodes": {}}}
    rows = return_report.task_rows({"cartpole-swingup": manifest}, arms, 1000)
    assert rows[0]["data_best_policy"] == "a" and rows[0]["x"]["mean"] == 12.0
    assert rows[0]["x"]["episodes"] == 2 and rows[0]["y"]["episodes"] == 0
    summary = return_report.aggregate_arms(rows, {"x": arms["x"]}, 1000)
    assert summary["x"]["above_data_mean"] == ["cartpole-swingup"]
    assert summary["x"]["above_best_policy"] == []  # 12 is not above 12
    table = return_report.format_table(rows, ["x", "y"], {"x": "x arm"})
    assert "| cartpole-swingup | 10.0 | a (12.0) | 12.0 [11.0, 13.0] | - |" in table
    assert "x arm" in table


def test_sweep_trend_within_the_data_range():
    entries = [{"target": "q0", "requested": 10.0, "returns": [5.0, 7.0]},
               {"target": "q1", "requested": 50.0, "returns": [30.0, 40.0]},
               {"target": "q0.5", "requested": 30.0, "returns": [20.0, 22.0]},
               {"target": "1.2xexpert", "requested": 90.0, "returns": [10.0]},
               {"target": "expert", "requested": None, "returns": [60.0]}]
    trend = return_report.sweep_trend(entries, 10.0, 50.0)
    assert trend["targets"] == ["q0", "q0.5", "q1"] and trend["monotone"]
    assert trend["achieved_means"] == [6.0, 21.0, 35.0]
    assert trend["spearman"] > 0.9  # below 1: the requests tie within a group
    assert trend["above_range"] == {"1.2xexpert": 10.0}
    entries[1]["returns"] = [1.0, 2.0]  # the highest request gets the least
    trend = return_report.sweep_trend(entries, 10.0, 50.0)
    assert not trend["monotone"] and trend["spearman"] < 0.5
    assert np.isnan(return_report.sweep_trend(entries[:1], 10.0, 50.0)["spearman"])


@pytest.mark.slow
def test_study_runs_every_step_and_resumes(tmp_path, capsys):
    """One task, 2 steps per arm, 1 episode per evaluation: the plumbing, not the question."""
    argv = ["return-study", "--config", "experiments/return_conditioned.py:tiny,steps=2",
            "--workdir", str(tmp_path), "--set", "generate.tasks=cartpole-swingup",
            "--set", "data.tasks=cartpole-swingup", "--set", "eval.tasks=cartpole-swingup",
            "--set", "generate.max_episode_steps=20", "--set", "eval.max_steps=20",
            "--set", "eval.episodes=1", "--set", "eval.batch_size=1",
            "--set", "study.sweep=q0,q1,expert", "--set", "study.sweep_episodes=1",
            "--set", "train.peak_flops_per_device=1e12"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "| cartpole-swingup |" in out and "returns (q1)" in out
    study = json.loads((tmp_path / "study.json").read_text())
    (row,) = study["rows"]
    assert {"bc", "filtered", "returns"} <= set(row) and row["returns"]["episodes"] == 1
    assert [e["target"] for e in study["sweep"]["cartpole-swingup"]] == ["q0", "q1", "expert"]
    assert study["sweep"]["cartpole-swingup"][2]["requested"] is None
    assert (tmp_path / "sweep.png").stat().st_size > 0
    assert "Spearman rho" in out and "cartpole-swingup" in study["sweep_trends"]
    returns_config = json.loads((tmp_path / "returns" / "checkpoints" / "config.json")
                                .read_text())
    assert returns_config["model"]["overrides"]["return_tokens"]
    metrics = (tmp_path / "returns" / "metrics.jsonl").read_text()
    assert "train/loss/return" in metrics
    filtered = json.loads((tmp_path / "filtered" / "checkpoints" / "config.json").read_text())
    assert filtered["data"]["filter"]["top_fraction"] == 0.2
    assert cli.main(argv) == 0  # everything is reused
    assert "sweep: asking for" in capsys.readouterr().out
