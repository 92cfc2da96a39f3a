"""Aggregates with intervals (rliable), many-run score matrices, `gato compare`, protocols."""

import json

import numpy as np
import pytest
from rliable import library as rly
from rliable import metrics

from gato.cli import main as gato_main
from gato.envs import protocol, registry
from gato.results import compare, runs, scoring, statistics
from gato.testing.results import fixed_results

CAP1000 = protocol.get("cap1000")
REPS = 300


def _results(label: str, normalized: dict[str, list[float]], failed: dict[str, int] | None = None,
             run_protocol: protocol.Protocol = CAP1000) -> dict:
    return fixed_results(label, normalized, failed, run_protocol)


@pytest.mark.filterwarnings("ignore:random_state is deprecated:FutureWarning")
def test_aggregates_equal_rliable_on_fixed_scores():
    x = np.random.default_rng(0).uniform(-0.2, 1.3, size=(4, 7))
    out = statistics.aggregates(x, REPS)
    assert out["iqm"]["value"] == pytest.approx(metrics.aggregate_iqm(x))
    assert out["mean"]["value"] == pytest.approx(metrics.aggregate_mean(x))
    assert out["median"]["value"] == pytest.approx(metrics.aggregate_median(x))
    assert out["optimality_gap"]["value"] == pytest.approx(metrics.aggregate_optimality_gap(x))
    np.random.seed(statistics.BOOTSTRAP_SEED)  # rliable resamples from the global generator
    _, interval = rly.get_interval_estimates(
        {"x": x}, lambda s: np.array([metrics.aggregate_iqm(s), metrics.aggregate_mean(s)]),
        reps=REPS, random_state=np.random.RandomState(statistics.BOOTSTRAP_SEED))
    np.testing.assert_allclose(out["iqm"]["ci"], interval["x"][:, 0])
    np.testing.assert_allclose(out["mean"]["ci"], interval["x"][:, 1])
    assert out["iqm"]["ci"][0] < out["iqm"]["value"] < out["iqm"]["ci"][1]
    assert statistics.aggregates(x, REPS) == out  # reproducible

    taus = [0.0, 0.5, 1.0]
    profile = statistics.performance_profile(x, REPS, taus)
    expected, _ = rly.create_performance_profile({"x": x}, taus, reps=10)
    np.testing.assert_allclose(profile["fraction"], expected["x"])
    np.random.seed(statistics.BOOTSTRAP_SEED)
    _, band = rly.get_interval_estimates({"x": x}, lambda s: rly.score_distributions(s, taus),
                                         reps=REPS)
    np.testing.assert_allclose([profile["ci_low"], profile["ci_high"]], band["x"])
    assert all(lo <= f <= hi for lo, f, hi in zip(profile["ci_low"], profile["fraction"],
                                                   profile["ci_high"], strict=True))
    y = x + np.random.default_rng(1).normal(0.1, 0.3, size=x.shape)
    p = statistics.probability_of_improvement(x, y, REPS)
    assert p["value"] == pytest.approx(metrics.probability_of_improvement(x, y))
    assert p["ci"][0] < p["value"] < p["ci"][1]


def test_one_run_uses_its_episodes_several_runs_their_means():
    one = _results("a", {"cartpole-swingup": [0.2, 0.4, 0.9], "pong": [0.1, 0.3, 0.2]})
    matrix = statistics.score_matrix({"a": one})
    assert matrix.unit == "episode" and matrix.tasks == [("atari", "pong"),
                                                         ("control", "cartpole-swingup")]
    np.testing.assert_allclose(matrix.scores, [[0.1, 0.2], [0.3, 0.4], [0.2, 0.9]])
    two = _results("b", {"cartpole-swingup": [0.0, 0.2, 0.4], "pong": [0.5, 0.5, 0.5]})
    matrix = statistics.score_matrix({"b": two, "a": one})
    assert matrix.unit == "run" and matrix.runs == ["a", "b"]
    np.testing.assert_allclose(matrix.scores, [[0.2, 0.5], [0.5, 0.2]])


def test_many_run_aggregate_does_not_depend_on_the_order_of_runs():
    rng = np.random.default_rng(3)
    given = {f"seed_{s}": _results(f"seed_{s}", {t: list(rng.uniform(0, 1, 4)) for t in
                                                 ("cartpole-swingup", "reacher-easy", "pong",
                                                  "breakout")}) for s in range(4)}
    forward = statistics.summarize(given, REPS)
    backward = statistics.summarize(dict(reversed(list(given.items()))), REPS)
    assert json.dumps(forward, sort_keys=True) == json.dumps(backward, sort_keys=True)
    assert forward["groups"]["all"]["tasks"] == 4 and forward["unit"] == "run"
    # the bootstrap itself is order-dependent: without sorting the runs the bounds would move
    matrix = statistics.score_matrix(given).scores
    _, a = statistics.interval_estimates(matrix, metrics.aggregate_iqm, REPS)
    _, b = statistics.interval_estimates(matrix[::-1], metrics.aggregate_iqm, REPS)
    assert not np.allclose(a, b)


def test_failed_task_is_reported_not_dropped_silently():
    good = {"cartpole-swingup": [0.5, 0.6], "pong": [0.2, 0.4]}
    given = {"a": _results("a", good), "b": _results("b", good, failed={"pong": 1})}
    summary = statistics.summarize(given, REPS)
    assert summary["excluded"] == [{"suite": "atari", "task": "pong", "run": "b",
                                    "reason": "1 of 2 episodes failed"}]
    assert summary["groups"]["all"]["tasks"] == 1 and summary["groups"]["all"]["total_tasks"] == 2
    assert summary["groups"]["atari"]["metrics"] is None
    assert summary["groups"]["all"]["metrics"]["mean"]["value"] == pytest.approx(0.55)
    text = statistics.format_summary(summary)
    assert "all      1/2" in text and "excluded from the aggregate: pong (b: 1 of 2 episodes " \
                                        "failed)" in text
    missing = statistics.summarize({"a": given["a"], "c": _results("c", {"pong": [0.3, 0.3]})},
                                   REPS)
    assert {(e["task"], e["run"], e["reason"]) for e in missing["excluded"]} == {
        ("cartpole-swingup", "c", "not evaluated")}


def test_runs_under_different_protocols_are_not_aggregated():
    full = _results("b", {"pong": [0.5]}, run_protocol=protocol.get("full"))
    with pytest.raises(ValueError, match="different protocols"):
        statistics.summarize({"a": _results("a", {"pong": [0.5]}), "b": full}, REPS)


def test_compare_two_fixed_score_sets(tmp_path, capsys):
    side_a = {"a0": _results("a0", {"cartpole-swingup": [0.2], "pong": [0.9]}),
              "a1": _results("a1", {"cartpole-swingup": [0.4], "pong": [0.7]})}
    side_b = {"b0": _results("b0", {"cartpole-swingup": [0.6], "pong": [0.1],
                                    "breakout": [0.5]}),
              "b1": _results("b1", {"cartpole-swingup": [0.8], "pong": [0.8],
                                    "breakout": [0.5]})}
    result = compare.compare(side_a, side_b, REPS)
    assert result["unit"] == "run"
    by_task = {t["task"]: t for t in result["tasks"]}
    assert set(by_task) == {"cartpole-swingup", "pong"}  # breakout: B only, listed
    assert by_task["cartpole-swingup"]["difference"]["value"] == pytest.approx(0.4)
    assert by_task["pong"]["difference"]["value"] == pytest.approx(-0.35)
    assert by_task["cartpole-swingup"]["p_a_better"] == 0.0
    assert by_task["pong"]["p_a_better"] == pytest.approx(0.75)  # 3 of 4 pairs
    assert result["probability_a_better"]["value"] == pytest.approx(0.375)
    text = compare.format_compare(result)
    assert "P(A > B) = 0.375 [" in text and "P(B > A) = 0.625 [" in text
    assert "not compared: breakout (B, all runs: not scored in A)" in text

    runs.aggregate_runs(side_a, tmp_path / "a", REPS)  # side A from an aggregate.json
    assert runs.load_runs(tmp_path / "a").keys() == side_a.keys()
    for label, results in side_b.items():  # side B from a list of results.json
        (tmp_path / f"{label}.json").write_text(json.dumps(results))
    out = tmp_path / "cmp"
    side_b_paths = f"{tmp_path / 'b0.json'},{tmp_path / 'b1.json'}"
    assert gato_main(["compare", str(tmp_path / "a"), side_b_paths, "--labels", "base,new",
                      "--out", str(out), "--reps", str(REPS)]) == 0
    printed = capsys.readouterr().out
    assert "P(base > new) = 0.375 [" in printed
    saved = json.loads((out / "compare.json").read_text())
    assert saved["probability_a_better"]["value"] == pytest.approx(0.375)
    for name in ("compare_tasks.png", "compare_profile.png", "compare_aggregates.png"):
        assert (out / name).stat().st_size > 0, name
    other = tmp_path / "full.json"
    other.write_text(json.dumps(_results("f", {"pong": [0.5]}, run_protocol=protocol.get("full"))))
    assert gato_main(["compare", str(tmp_path / "a"), str(other), "--out", str(out)]) == 1
    assert "different protocols" in capsys.readouterr().err


def test_protocol_builds_environments_under_its_settings():
    pong = registry.get("pong")
    sticky = CAP1000.replace(sticky_actions=0.25, noop_max=0)
    env = sticky.apply(pong).make_env(3)
    assert env.config.max_episode_steps == 1000 and env.config.repeat_action_probability == 0.25
    assert env.config.noop_max == 0 and sticky.apply(pong).max_episode_steps == 1000
    assert sticky.label == "cap1000[noop_max=0,sticky_actions=0.25]"
    assert protocol.Protocol.from_dict(sticky.to_dict()) == sticky
    control = registry.get("cartpole-swingup")
    assert protocol.resolve("full", max_steps=5000).cap(control) == 1000  # its own time limit
    assert protocol.resolve("cap1000", episodes=3, seed=7).seeds() == [7, 8, 9]
    assert protocol.resolve("cap1000", max_steps=1000).label == "cap1000"
    with pytest.raises(KeyError, match="cap1000, full"):
        protocol.get("nope")


def test_eval_cli_needs_out_for_several_checkpoints(tmp_path, capsys):
    args = ["eval", "--checkpoint", str(tmp_path / "a"), str(tmp_path / "b"), "--tasks", "pong"]
    assert gato_main(args) == 1
    assert "--out DIR is required" in capsys.readouterr().err


def test_success_rates_are_aggregated_with_intervals_where_tasks_report_success():
    """Two runs; pong's episodes carry success flags (as BabyAI and Meta-World episodes do),
    cartpole's do not, so only pong enters the success summary."""
    runs_ = {}
    for label, flags in (("a", [True, False, True, True]), ("b", [False, False, True, False])):
        results = _results(label, {"pong": [0.5] * 4, "cartpole-swingup": [0.3] * 4})
        for episode, flag in zip(results["episodes"]["pong"], flags, strict=True):
            episode["success"] = flag
        results["tasks"] = [scoring.task_summary(row["task"], row["suite"],
                                                 results["episodes"][row["task"]], CAP1000)
                            for row in results["tasks"]]
        runs_[label] = results
    assert [r["success_rate"] for r in runs_["a"]["tasks"]] == [0.75, None]
    summary = statistics.summarize(runs_, REPS)
    success = summary["success"]
    assert set(success["tasks"]) == {"pong"} and success["groups"]["all"]["tasks"] == 1
    assert success["tasks"]["pong"]["value"] == pytest.approx((0.75 + 0.25) / 2)
    lo, hi = success["groups"]["atari"]["mean"]["ci"]
    assert 0.25 <= lo <= 0.5 <= hi <= 0.75
    assert "success rate, atari (1 tasks): mean 0.500" in statistics.format_summary(summary)
    one = statistics.summarize({"a": runs_["a"]}, REPS)["success"]  # episodes as rows
    assert one["tasks"]["pong"]["value"] == pytest.approx(0.75)
    assert statistics.summarize({"a": _results("a", {"pong": [0.5] * 2})}, REPS)["success"] is None
