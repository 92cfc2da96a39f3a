"""`gato offline`: teacher-forced action metrics on recorded episodes."""

import json
import math

import numpy as np
import pytest

from gato.cli import main as gato_main
from gato.config import complete
from gato.data.formats import load_episodes
from gato.data.recording import builder
from gato.envs import registry
from gato.eval import offline
from gato.model.build import build_model
from gato.testing import pipeline as fakes
from gato.testing.eval import counter_task, save_random_checkpoint, tiny_model
from gato.testing.model import init_params
from gato.tokenizers import sequence as seqlib
from gato.tokenizers.continuous import bin_centers
from gato.tokenizers.vocab import CONTINUOUS_BINS, CONTINUOUS_OFFSET, RETURN_OFFSET
from gato.train import evaluators


def test_token_metrics_of_a_sure_and_a_uniform_prediction():
    spec = fakes.CONTROL_SPEC  # continuous actions, 2 per timestep
    tokens = np.zeros((1, 5), np.int32)
    tokens[0, 3:5] = CONTINUOUS_OFFSET + np.array([10, 1000])
    is_action = np.zeros((1, 5), bool)
    is_action[0, 3:5] = True
    log_probs = np.full((1, 5, CONTINUOUS_BINS), -math.log(CONTINUOUS_BINS))
    sure = np.full(CONTINUOUS_BINS, -60.0)
    sure[10] = 0.0
    log_probs[0, 2] = sure  # position 2 predicts the action at position 3
    sums = offline.token_metrics(log_probs, tokens, is_action, spec)
    assert sums["count"] == 2 and sums["correct"] == 1  # the uniform row's argmax is bin 0
    assert sums["nll"] == pytest.approx(math.log(CONTINUOUS_BINS), rel=1e-6)
    values = bin_centers()
    # the sure row's mean is bin 10's value; the uniform row's mean is 0
    assert sums["squared_error"] == pytest.approx(values[1000] ** 2, rel=1e-6)


def test_token_metrics_of_discrete_actions_have_no_squared_error():
    spec = fakes.ATARI_SPEC  # 6 actions
    tokens = np.array([[0, 0, 4]], np.int32)
    is_action = np.array([[False, False, True]])
    log_probs = np.log(np.full((1, 3, 6), 1 / 6))
    log_probs[0, 1] = np.log([0.05, 0.05, 0.05, 0.05, 0.75, 0.05])
    sums = offline.token_metrics(log_probs, tokens, is_action, spec)
    assert sums == {"count": 1, "nll": pytest.approx(-math.log(0.75)), "correct": 1,
                    "squared_error": 0.0}


def test_windows_start_at_timestep_zero_or_fill_the_window():
    episodes = fakes.control_episodes(3, seed=0, min_len=40, max_len=40)
    rng = np.random.default_rng(0)
    starts = offline.episode_windows(fakes.CONTROL_SPEC, episodes, count=6, seq_len=64,
                                     at_start=True, rng=rng)
    uniform = offline.episode_windows(fakes.CONTROL_SPEC, episodes, count=7, seq_len=64,
                                      at_start=False, rng=rng)
    first_step = [int(s["tokens"][4]) for s in starts]  # the "step" observation of timestep 0
    assert first_step == [0] * 6
    assert [int(s["tokens"][0]) for s in starts] == [0, 0, 1, 1, 2, 2]  # 2 per episode
    assert [int(s["tokens"][0]) for s in uniform] == [0, 0, 0, 1, 1, 2, 2]  # 7 = 3 + 2 + 2
    assert len({int(s["tokens"][4]) for s in uniform}) > 3
    assert all(s["loss_mask"].sum() == 2 * (64 // fakes.CONTROL_TOKENS_PER_STEP) for s in uniform)


def test_shuffled_returns_come_from_another_window_and_touch_nothing_else():
    def window(returns: list[int], n: int = 12) -> dict:
        seq = seqlib.empty(n)
        seq["tokens"][:] = np.arange(n) + 100 * len(returns)
        at = np.arange(len(returns)) * 3 + 1  # a return token every third position
        seq["tokens"][at] = RETURN_OFFSET + np.asarray(returns)
        seq["modality"][at] = seqlib.Modality.RETURN
        return seq

    seqs = [window([5, 4, 3, 2]), window([50, 40, 30]), window([90, 80, 70, 60]),
            window([7, 6, 6, 1])]
    out = offline.shuffle_returns(seqs, np.random.default_rng(0))
    own = [s["tokens"][s["modality"] == seqlib.Modality.RETURN] - RETURN_OFFSET for s in seqs]
    got = [s["tokens"][s["modality"] == seqlib.Modality.RETURN] - RETURN_OFFSET for s in out]
    donors = []
    for i, g in enumerate(got):
        # the first k return tokens are a prefix of exactly one other window's (k = both hold)
        match = [j for j in range(4) if j != i and list(g[:min(len(g), len(own[j]))])
                 == list(own[j][:min(len(g), len(own[j]))])]
        assert len(match) == 1, (i, g)
        donors.append(match[0])
        keep = seqs[i]["modality"] != seqlib.Modality.RETURN
        assert np.array_equal(out[i]["tokens"][keep], seqs[i]["tokens"][keep])
    assert sorted(donors) == [0, 1, 2, 3]  # a permutation: every window gives once
    # window 1 has 3 return tokens: a 4-token donor gives its first 3; to a 4-token window
    # it gives 3 and the 4th stays its own
    short_taker = [i for i, d in enumerate(donors) if d == 1][0]
    assert got[short_taker][3] == own[short_taker][3]
    assert seqs[0]["tokens"][1] == RETURN_OFFSET + 5  # the inputs are not modified


def test_shuffled_returns_need_a_model_with_return_tokens():
    model, params = tiny_model(seed=0)
    episodes = fakes.control_episodes(2, seed=1, min_len=30, max_len=30)
    with pytest.raises(ValueError, match="return tokens"):
        offline.evaluate_task(model, params, fakes.CONTROL_SPEC, episodes, count=2, seq_len=64,
                              returns="shuffled")


def test_evaluate_task_of_a_random_model_and_batching():
    model, params = tiny_model(seed=0)
    episodes = fakes.control_episodes(4, seed=1, min_len=30, max_len=30)
    kwargs = dict(count=5, seq_len=64, seed=3)
    a = offline.evaluate_task(model, params, fakes.CONTROL_SPEC, episodes, batch_size=2, **kwargs)
    b = offline.evaluate_task(model, params, fakes.CONTROL_SPEC, episodes, batch_size=8, **kwargs)
    assert a["windows"] == 5 and a["action_tokens"] == 5 * 8 * 2
    for key in ("nll", "mse", "accuracy"):
        assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), key
    # an untrained model is close to uniform over the 1024 bins
    assert abs(a["nll"] - math.log(CONTINUOUS_BINS)) < 0.5 and 0 < a["mse"] < 2


class _CounterBuilder(builder.GatoEpisodeBuilder, skip_registration=True):
    name = "gato_test"
    suite = "test"
    BUILDER_CONFIGS = [builder.TaskConfig(name="test-counter")]


def _counter_data(tmp_path, monkeypatch, episodes: int):
    """(task, data_dir) of `episodes` random counter episodes, the task registered."""
    registry.all_tasks()
    task = counter_task(length=10)
    monkeypatch.setitem(registry._TASKS, task.name, task)
    data = tmp_path / "data"
    _CounterBuilder(config=task.name, data_dir=str(data), episodes=episodes, policy="random",
                    seed=0, shard_size=2, workers=1).download_and_prepare()
    return task, data


def test_cli_reports_tasks_and_writes_json(tmp_path, monkeypatch, capsys):
    task, data = _counter_data(tmp_path, monkeypatch, episodes=2)
    save_random_checkpoint(tmp_path / "run", data={"source": "rlds", "suites": "",
                                                   "tasks": task.name})
    out = tmp_path / "offline.json"
    args = ["offline", "--checkpoint", str(tmp_path / "run"), "--data-dir", str(data),
            "--tasks", task.name, "--windows", "3", "--at-start", "--out", str(out)]
    assert gato_main(args) == 0
    assert task.name in capsys.readouterr().out
    record = json.loads(out.read_text())
    result = record["tasks"][task.name]
    assert record["at_start"] and record["seq_len"] == 32 and result["windows"] == 3
    assert result["action_tokens"] > 0 and result["nll"] > 0 and math.isnan(result["mse"])

    missing = ["offline", "--checkpoint", str(tmp_path / "run"), "--data-dir",
               str(tmp_path / "nowhere"), "--tasks", task.name]
    assert gato_main(missing) == 1
    assert "nowhere" in capsys.readouterr().err


def test_split_slices_select_episodes(tmp_path, monkeypatch):
    task, data = _counter_data(tmp_path, monkeypatch, episodes=4)
    full = load_episodes(task.name, data)
    held_out, kept = (load_episodes(task.name, data, s) for s in ("train[-1:]", "train[:-1]"))
    assert (len(full), len(kept), len(held_out)) == (4, 3, 1)
    for got, want in ((held_out[0], full[3]), (kept[2], full[2]), (kept[0], full[0])):
        assert np.array_equal(got["action"], want["action"])
    assert held_out.metadata(0) == full.metadata(3) and "record" in held_out.locate(0)
    with pytest.raises(ValueError, match="holds no episodes"):
        load_episodes(task.name, data, "train[4:]")
    with pytest.raises(ValueError, match="NAME\\[start:stop\\]"):
        load_episodes(task.name, data, "train[1%:]")


def test_offline_evaluator_scores_fixed_held_out_windows(tmp_path, monkeypatch):
    task, data = _counter_data(tmp_path, monkeypatch, episodes=4)
    config = complete({
        "model": {"name": "tiny", "overrides": {"max_len": 32}},
        "data": {"data_dir": str(data), "suites": "", "tasks": task.name}})
    factory = evaluators.get("offline")
    options = {"split": "train[2:]", "windows": 3, "prefix": "heldout", "batch_size": 2}
    evaluator = factory(config, options, tmp_path)
    model, model_config = build_model(config.model)
    params = init_params(model_config)
    first, again = evaluator.run(params, 10), evaluator.run(params, 20)
    key = f"heldout/test/{task.name}"
    assert set(first) == {f"{key}/{m}" for m in ("nll", "marginal_nll", "accuracy")}
    assert first == again
    want = offline.evaluate_task(model, params, task.spec,
                                 load_episodes(task.name, data, "train[2:]"), count=3,
                                 seq_len=32, seed=0)
    assert first[f"{key}/nll"] == pytest.approx(want["nll"], rel=1e-6)
    assert first[f"{key}/accuracy"] == pytest.approx(want["accuracy"])
    with pytest.raises(ValueError, match="unknown options \\['window'\\]"):
        factory(config, {"window": 3}, tmp_path)


def test_gato_eval_runs_one_in_training_evaluator_on_a_checkpoint(tmp_path, monkeypatch, capsys):
    """`gato eval --evaluator NAME`: the run's entry of that name (type and options), or a
    registered type with its defaults and --evaluator-options; metrics printed and written."""
    task, data = _counter_data(tmp_path, monkeypatch, episodes=4)
    run = tmp_path / "run"
    save_random_checkpoint(run, steps=(3,), data={"source": "rlds", "suites": "",
                                                  "tasks": task.name, "data_dir": str(data)})
    config_path = run / "checkpoints" / "config.json"
    config = json.loads(config_path.read_text())
    config["evaluators"] = {"heldout": {"type": "offline", "every": 10, "options": {
        "split": "train[2:]", "windows": 3, "prefix": "heldout"}}}
    config_path.write_text(json.dumps(config))
    assert gato_main(["eval", "--checkpoint", str(run), "--evaluator", "heldout"]) == 0
    written = json.loads((run / "eval" / "step_3" / "evaluator_heldout.json").read_text())
    model, params = tiny_model(seed=0, max_len=32)
    want = offline.evaluate_task(model, params, task.spec,
                                 load_episodes(task.name, data, "train[2:]"), count=3,
                                 seq_len=32, seed=0)
    key = f"heldout/test/{task.name}/nll"
    assert written["step"] == 3 and written["metrics"][key] == pytest.approx(want["nll"], 1e-5)
    assert key in capsys.readouterr().out
    assert gato_main(["eval", "--checkpoint", str(run), "--evaluator", "offline",
                      "--evaluator-options", '{"windows": 2}', "--out", str(tmp_path / "o")]) == 0
    assert f"offline/test/{task.name}/nll" in json.loads(
        (tmp_path / "o" / "evaluator_offline.json").read_text())["metrics"]
    assert gato_main(["eval", "--checkpoint", str(run), "--evaluator", "held"]) == 1
    err = capsys.readouterr().err.strip()
    assert "'held' is not an evaluator of the run (heldout)" in err and "\n" not in err


def test_marginal_entropy_counts_the_scored_actions_only():
    def window(tokens, actions):
        return {"tokens": np.asarray(tokens, np.int32), "is_action": np.asarray(actions, bool)}

    # scored actions: 7, 7, 9, 9 (the action at position 0 has no prediction before it)
    seqs = [window([5, 7, 1, 9], [True, True, False, True]),
            window([1, 7, 2, 9], [False, True, False, True])]
    assert offline.marginal_entropy(seqs) == pytest.approx(math.log(2))
    one = [window([1, 3, 1, 3], [False, True, False, True])]
    assert offline.marginal_entropy(one) == pytest.approx(0.0)
    assert math.isnan(offline.marginal_entropy([window([1, 2], [False, False])]))
