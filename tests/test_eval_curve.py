"""`gato curve`: learning curves from a run's evaluator metrics and rollout results."""

import json

import numpy as np
import pytest

from gato.cli import main as gato_main
from gato.results import curve


def _results(step: int, returns: dict[str, list[float]], reference: dict | None) -> dict:
    """A results.json of one rollout evaluation: per task its episodes' returns."""
    tasks = [{"suite": "atari", "task": t, "episodes": len(r), "errors": 0,
              "expert_normalized": (None if reference is None else
                                    float(np.mean([(x - reference["random_mean"]) /
                                                   (reference["expert_mean"] -
                                                    reference["random_mean"]) for x in r]))),
              "reference": reference} for t, r in returns.items()]
    episodes = {t: [{"seed": i, "return": x} for i, x in enumerate(r)]
                for t, r in returns.items()}
    return {"step": step, "tasks": tasks, "episodes": episodes}


def test_offline_curves_group_by_prefix_and_metric_and_keep_the_last_write():
    records = [{"step": 0, "perf/peak_flops": 1.0},
               {"step": 250, "heldout/atari/pong/nll": 1.2, "heldout/atari/pong/accuracy": 0.4,
                "train/loss": 3.0},
               {"step": 500, "heldout/atari/pong/nll": 1.1, "heldout/atari/boxing/nll": 2.5},
               {"step": 500, "heldout/atari/pong/nll": 1.0}]  # a resumed run rewrote step 500
    curves = curve.offline_curves(records)
    assert sorted(curves) == ["heldout/accuracy", "heldout/nll"]
    assert curves["heldout/nll"]["pong"] == [{"step": 250, "value": 1.2},
                                             {"step": 500, "value": 1.0}]
    assert curves["heldout/nll"]["boxing"] == [{"step": 500, "value": 2.5}]
    assert curves["heldout/accuracy"] == {"pong": [{"step": 250, "value": 0.4}]}


def test_rollout_curves_have_means_with_intervals_and_name_unscored_tasks():
    reference = {"random_mean": 0.0, "expert_mean": 10.0, "measured_under": "cap1000"}
    by_step = {1000: _results(1000, {"pong": [1.0, 3.0, 5.0]}, reference),
               2000: _results(2000, {"pong": [6.0, 8.0, 10.0]}, reference),
               3000: _results(3000, {"pong": [4.0, 4.0]}, None)}
    curves = curve.rollout_curves(by_step, reps=200)
    points = curves[curve.ROLLOUT]["pong"]
    assert [p["step"] for p in points] == [1000, 2000, 3000]
    assert points[0]["value"] == pytest.approx(0.3) and points[1]["value"] == pytest.approx(0.8)
    for p in points[:2]:
        assert p["ci"][0] <= p["value"] <= p["ci"][1] and p["episodes"] == 3
    assert points[0]["ci"][1] < points[1]["ci"][0]  # 1, 3, 5 against 6, 8, 10: disjoint
    assert points[2]["value"] is None and "no expert-normalized score" in points[2]["reason"]
    returns = curves[curve.ROLLOUT_RETURN]["pong"]
    assert [p["value"] for p in returns] == pytest.approx([3.0, 8.0, 4.0])
    assert returns[2]["ci"] == pytest.approx([4.0, 4.0])


def test_cli_prints_tables_and_writes_json_and_figure(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "eval" / "step_500").mkdir(parents=True)
    reference = {"random_mean": 0.0, "expert_mean": 10.0, "measured_under": "cap1000"}
    (run / "eval" / "step_500" / "results.json").write_text(
        json.dumps(_results(500, {"pong": [2.0, 4.0]}, reference)))
    (run / "metrics.jsonl").write_text(json.dumps(
        {"step": 250, "heldout/atari/pong/nll": 1.25, "heldout/atari/pong/marginal_nll": 1.1})
        + "\n")
    assert gato_main(["curve", str(run), "--reps", "100"]) == 0
    out = capsys.readouterr().out
    assert "== heldout/nll ==" in out and "1.250" in out and "== rollout/normalized ==" in out
    assert "== heldout/marginal_nll ==" in out
    saved = json.loads((run / "curve" / "curve.json").read_text())
    assert saved["curves"]["rollout/normalized"]["pong"][0]["value"] == pytest.approx(0.3)
    assert (run / "curve" / "curve.png").stat().st_size > 0

    (tmp_path / "empty").mkdir()
    assert gato_main(["curve", str(tmp_path / "empty")]) == 1
    assert "no evaluator metrics" in capsys.readouterr().err
