"""The evaluator end to end with scripted agents: expert returns, reports, errors, prompts."""

import dataclasses
import json

import dm_env
import numpy as np
import pytest

from gato.config import complete
from gato.envs import registry
from gato.envs.scores import ProtocolMismatchError
from gato.eval.config import default_eval_config, run_settings
from gato.eval.evaluator import Evaluator
from gato.eval.rollout import run_batch
from gato.eval.scripted import PolicyAgent, TokenReplayAgent, expert_factory
from gato.results import report
from gato.results.report import write_gif
from gato.testing.eval import CounterExpert, counter_task, crashing_task


def _config(**overrides):
    config = default_eval_config()
    config.update({"episodes": 4, "batch_size": 3, "prompt": "none", "gif": False, **overrides})
    return config


def _direct_expert_return(task, seed: int, max_steps: int) -> float:
    """The expert run directly (no evaluator) in a fresh env with the same seed."""
    from gato.policies import episode_return, make_expert

    env = task.make_env(seed)
    policy = make_expert(task.name, env)
    policy.reset(seed)
    return episode_return(env, policy, max_steps)


def test_scripted_expert_reproduces_direct_expert_return():
    task = registry.get("cartpole-swingup")
    seeds, steps = [0, 1, 2], 30
    episodes, _ = run_batch(task, PolicyAgent(expert_factory(task)), seeds, max_steps=steps)
    direct = [_direct_expert_return(task, s, steps) for s in seeds]
    assert [e["return"] for e in episodes] == direct
    assert all(e["length"] == steps for e in episodes)
    assert len({round(r, 6) for r in direct}) > 1  # seeds matter: the comparison is not trivial
    replay = TokenReplayAgent(expert_factory(task), task)
    replayed, _ = run_batch(task, replay, seeds, max_steps=steps)
    np.testing.assert_allclose([e["return"] for e in replayed], direct, rtol=0.05, atol=0.5)
    ids = np.concatenate(replay.emitted)
    assert ids.min() >= 32_000 and ids.max() < 33_024


def test_evaluator_writes_reports_and_records_crashes(tmp_path):
    task = crashing_task(counter_task(length=8), crash_at=3, crash_seeds={1})
    evaluator = Evaluator(_config(), tasks=[task], workdir=tmp_path)
    results = evaluator.evaluate(lambda t: PolicyAgent(lambda env: CounterExpert()), step=7)
    out = tmp_path / "eval" / "step_7"
    for name in ("results.json", "tasks.csv", "suites.csv", "scores_test.png"):
        assert (out / name).stat().st_size > 0, name
    saved = json.loads((out / "results.json").read_text())
    eps = saved["episodes"]["test-counter"]
    assert [e["seed"] for e in eps] == [0, 1, 2, 3]
    assert "simulated crash" in eps[1]["error"] and eps[1]["length"] == 3
    row = saved["tasks"][0]
    assert row["errors"] == 1 and row["mean_return"] == 8.0 and row["std_return"] == 0.0
    assert results["suites"][0]["errors"] == 1
    assert saved["protocol"]["label"] == "full[episodes=4]"
    excluded = saved["aggregate"]["excluded"]  # unscored (no reference) and reported so
    assert [e["task"] for e in excluded] == ["test-counter"] and "failed" in excluded[0]["reason"]
    assert (tmp_path / "tensorboard").is_dir() and any((tmp_path / "tensorboard").iterdir())
    header = (out / "tasks.csv").read_text().splitlines()[0]
    assert header.startswith("suite,task,episodes,errors,mean_return")


def test_prompted_agent_receives_demonstration(tmp_path):
    seen = []

    class Recorder(PolicyAgent):
        def reset(self, batch_size, prompt, *, envs=(), seeds=()):
            seen.append(None if prompt is None else prompt["tokens"].shape)
            super().reset(batch_size, prompt, envs=envs, seeds=seeds)

    demo = {"observation": {"target": np.zeros(6, np.int32), "time": np.arange(6, dtype=np.int32)},
            "action": np.zeros(6, np.int32), "is_last": np.arange(6) == 5}
    config = _config(prompt="start", prompt_tokens=10, episodes=5, batch_size=2)
    evaluator = Evaluator(config, tasks=[counter_task(length=4)], out_dir=tmp_path,
                          demonstrations={"test-counter": [demo]})
    evaluator.evaluate(lambda t: Recorder(lambda env: CounterExpert()), step=0)
    assert seen == [(2, 10), (2, 10), (1, 10)]


def test_missing_demonstrations_warn_and_continue(tmp_path):
    config = _config(prompt="end", data_dir=str(tmp_path / "nowhere"), episodes=1)
    evaluator = Evaluator(config, tasks=[counter_task(length=4)], out_dir=tmp_path)
    results = evaluator.evaluate(lambda t: PolicyAgent(lambda env: CounterExpert()), step=0)
    assert results["tasks"][0]["mean_return"] == 4.0
    assert any("test-counter" in w for w in results["warnings"])


def test_write_gif(tmp_path):
    frames = [np.full((16, 16, 3), i * 20, np.uint8) for i in range(5)]
    path = write_gif(tmp_path / "x.gif", frames)
    import imageio.v2 as imageio

    assert len(imageio.mimread(path)) == 5


def test_env_failing_at_reset_is_recorded():
    task = counter_task(length=4)

    class Broken(dm_env.Environment):
        def reset(self):
            raise OSError("no display")

        def step(self, action):
            raise AssertionError

        def observation_spec(self):
            return {}

        def action_spec(self):
            return {}

    base = task.make_env
    task = dataclasses.replace(task, make_env=lambda s: Broken() if s == 0 else base(s))
    episodes, _ = run_batch(task, PolicyAgent(lambda env: CounterExpert()), [0, 1], 10)
    assert "no display" in episodes[0]["error"] and episodes[1]["return"] == 4.0


def test_rollout_evaluator_from_the_config_registry(tmp_path):
    """The "rollout" evaluator the train loop builds from config.evaluators, on a control task."""

    from gato.testing.eval import tiny_model
    from gato.train import evaluators

    _, params = tiny_model(seed=0, max_len=32)
    config = complete({
        "model": {"name": "tiny", "overrides": {"max_len": 32}},
        "eval": {"suites": "", "tasks": "cartpole-balance", "episodes": 2, "batch_size": 2,
                 "normalize": False, "prompt": "none", "gif": False},
        "evaluators": {"rollout": {"type": "rollout", "every": 5, "options": {"max_steps": 4}}},
    })
    [scheduled] = evaluators.build(config, tmp_path)
    assert (scheduled.name, scheduled.every) == ("rollout", 5)
    assert scheduled.due(10) and not scheduled.due(11)
    metrics = scheduled.evaluator.run(params, 10)
    assert "eval/control/cartpole-balance/return" in metrics
    saved = json.loads((tmp_path / "eval" / "step_10" / "results.json").read_text())
    assert [e["length"] for e in saved["episodes"]["cartpole-balance"]] == [4, 4]


def test_run_settings_layer_the_run_and_its_data_then_the_changes():
    """One assembly of eval settings for `gato eval`, the workflows and the rollout evaluator:
    defaults <- the run's eval section <- its data section where eval left the default <- the
    changes; an unknown key is named."""
    run = complete({"data": {"data_dir": "/runs/a/data", "on_bad_episode": "fail"},
                    "eval": {"episodes": 3, "tasks": "pong"}})
    got = run_settings(run, {"tasks": "boxing", "seed": 7})
    assert (got.episodes, got.tasks, got.seed) == (3, "boxing", 7)
    assert (got.data_dir, got.on_bad_episode) == ("/runs/a/data", "fail")
    assert run_settings(run, {"on_bad_episode": "skip"}).on_bad_episode == "skip"
    run.eval.data_dir = "/elsewhere"
    assert run_settings(run).data_dir == "/elsewhere"
    assert (run.eval.seed, run.eval.tasks) == (-1, "pong")  # the run's config is not changed
    with pytest.raises(ValueError, match="unknown eval setting key 'episode'"):
        run_settings(run, {"episode": 2})


def test_protocol_mismatch_is_refused_before_any_episode(tmp_path):
    """A 5-step cap against references measured over 1000 steps: a clear error, not a biased
    score; with normalize=False the returns are reported without normalized scores."""
    task = registry.get("cartpole-swingup")
    with pytest.raises(ProtocolMismatchError, match=r"cannot normalize cartpole-swingup under "
                       r"protocol full\[.*max_episode_steps=5.*full: max_episode_steps=1000"):
        Evaluator(_config(episodes=1, batch_size=1, max_steps=5), tasks=[task])
    evaluator = Evaluator(_config(episodes=1, batch_size=1, max_steps=5, normalize=False),
                          tasks=[task], out_dir=tmp_path)
    results = evaluator.evaluate(lambda t: PolicyAgent(expert_factory(t)), step=0)
    assert results["tasks"][0]["expert_normalized"] is None
    assert results["protocol"]["max_episode_steps"] == 5
    assert results["aggregate"]["excluded"][0]["reason"].startswith("no expert-normalized")


def test_expert_scores_about_one_under_the_main_protocol(tmp_path):
    """Scripted experts under cap1000 are normalized against the cap1000 references (Atari) and
    the equal-settings control ones; the report carries the aggregates and the figures."""
    tasks = [registry.get("cartpole-balance"), registry.get("freeway")]
    config = _config(protocol="cap1000", episodes=2, batch_size=2, bootstrap_reps=200)
    evaluator = Evaluator(config, tasks=tasks, out_dir=tmp_path)
    results = evaluator.evaluate(lambda t: PolicyAgent(expert_factory(t)), step=3)
    rows = {r["task"]: r for r in results["tasks"]}
    assert rows["freeway"]["reference"]["measured_under"] == "cap1000"
    assert rows["cartpole-balance"]["reference"]["measured_under"] == "full"
    assert all(r["expert_normalized"] > 0.8 for r in rows.values())
    assert [e["length"] for e in results["episodes"]["freeway"]] == [1000, 1000]
    assert rows["freeway"]["human_normalized"] is None  # human scores: 4500-step protocol only
    assert sum("no human-normalized Atari scores" in w for w in results["warnings"]) == 1
    overall = results["aggregate"]["groups"]["all"]
    assert overall["tasks"] == 2 and overall["metrics"]["iqm"]["ci"][0] <= (
        overall["metrics"]["iqm"]["value"])
    scalars = report.scalar_metrics(results["tasks"], results["suites"], results["aggregate"])
    assert scalars["eval/all/iqm_ci_low"] <= scalars["eval/all/iqm"] <= (
        scalars["eval/all/iqm_ci_high"])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["protocol"]["label"] == "cap1000[episodes=2]"
    for name in ("scores_atari.png", "scores_control.png", "performance_profile.png",
                 "aggregates.png"):
        assert (tmp_path / name).stat().st_size > 0, name
