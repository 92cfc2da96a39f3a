"""Normalized-score math, threshold counts, constrained decoding and prompt cutting."""

import math
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gato.eval.agent import sample_rows
from gato.eval.prompts import PromptSource, demonstration_tokens, stack_prompts
from gato.results import scoring
from gato.testing.eval import COUNTER_SPEC, counter_task
from gato.tokenizers.timestep import tokenize_timestep


def test_task_summary_uses_reference_table(monkeypatch):
    fake = types.ModuleType("gato.envs.scores")
    table = {"pong": {"expert_mean": 20.0, "random_mean": -20.0},
             "cartpole-swingup": {"expert_mean": 800.0, "random_mean": 0.0}}
    fake.reference = lambda name, protocol=None: table[name]
    fake.human_normalized = lambda name, ret: (ret - (-20.7)) / (14.6 - (-20.7))
    monkeypatch.setitem(sys.modules, "gato.envs.scores", fake)
    import gato.envs

    monkeypatch.setattr(gato.envs, "scores", fake, raising=False)
    eps = [{"return": r, "length": 10, "error": None} for r in (0.0, 10.0)]
    eps.append({"return": 999.0, "length": 3, "error": "RuntimeError at step 3: boom"})
    row = scoring.task_summary("pong", "atari", eps)
    assert row["episodes"] == 3 and row["errors"] == 1
    assert row["mean_return"] == 5.0 and row["std_return"] == 5.0
    assert row["expert_normalized"] == pytest.approx((5 + 20) / 40)
    assert row["human_normalized"] == pytest.approx((5 + 20.7) / 35.3)
    control = scoring.task_summary("cartpole-swingup", "control",
                                   [{"return": 400.0, "length": 5, "error": None}])
    assert control["expert_normalized"] == pytest.approx(0.5)
    assert control["human_normalized"] is None
    unknown = scoring.task_summary("no-such-task", "control",
                                   [{"return": 1.0, "length": 5, "error": None}])
    assert unknown["expert_normalized"] is None


def test_threshold_counts_and_suite_summary():
    assert scoring.tasks_at_or_above([0.2, 0.5, 1.1, None, math.nan], (0.0, 0.5, 1.0, 1.5)) == [
        3, 2, 1, 0]
    rows = [{"expert_normalized": v, "human_normalized": None, "episodes": 2, "errors": e}
            for v, e in ((0.2, 0), (0.6, 1), (1.2, 0), (None, 2))]
    s = scoring.suite_summary("control", rows)
    assert s["tasks"] == 4 and s["scored_tasks"] == 3 and s["errors"] == 3
    assert s["mean_expert_normalized"] == pytest.approx(2.0 / 3)
    assert s["median_expert_normalized"] == pytest.approx(0.6)
    assert s["tasks_at_50pct"] == 2 and s["tasks_at_100pct"] == 1


@pytest.mark.parametrize("mode", ["greedy", "sample", "mean"])
def test_constrained_sampling_stays_in_range(mode):
    logits = jax.random.normal(jax.random.PRNGKey(0), (64, 300)) * 5.0
    logits = logits.at[:, 0].set(100.0)  # the favourite id lies outside the range
    keys = jnp.stack([jax.random.PRNGKey(i) for i in range(64)])
    ids = np.asarray(sample_rows(logits, keys, jnp.int32(3), jnp.float32(2.0), lo=100, hi=140,
                                 mode=mode))
    assert ids.min() >= 100 and ids.max() < 140
    if mode == "greedy":
        expect = 100 + np.argmax(np.asarray(logits)[:, 100:140], axis=1)
        np.testing.assert_array_equal(ids, expect)
    elif mode == "mean":  # the expected value of softmax(logits / 2) over the range, rounded
        scaled = np.asarray(logits, np.float64)[:, 100:140] / 2.0
        probs = np.exp(scaled - scaled.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        np.testing.assert_array_equal(ids, 100 + np.round(probs @ np.arange(40)))
    else:
        assert len(set(ids.tolist())) > 5


def _episode(steps: int) -> dict:
    return {"observation": {"target": np.arange(steps, dtype=np.int32) % 4,
                            "time": np.arange(steps, dtype=np.int32)},
            "action": np.arange(steps, dtype=np.int32) % 4,
            "is_last": np.arange(steps) == steps - 1}


def test_demonstration_prompt_start_and_end():
    ep = _episode(6)  # 5 timesteps with actions, 4 tokens each
    full = np.concatenate([tokenize_timestep(COUNTER_SPEC, {"target": t % 4, "time": t},
                                             t % 4)["tokens"] for t in range(5)])
    start = demonstration_tokens(COUNTER_SPEC, ep, "start", 7)
    end = demonstration_tokens(COUNTER_SPEC, ep, "end", 7)
    np.testing.assert_array_equal(start["tokens"], full[:7])
    np.testing.assert_array_equal(end["tokens"], full[-7:])
    whole = demonstration_tokens(COUNTER_SPEC, ep, "end", 1000)
    np.testing.assert_array_equal(whole["tokens"], full)  # the final (action-less) step is dropped
    batched = stack_prompts([start, demonstration_tokens(COUNTER_SPEC, ep, "start", 5)], "start")
    assert batched["tokens"].shape == (2, 5) and batched["patches"].shape == (2, 5, 16, 16, 3)


def test_prompt_source_depends_on_seed_not_batch():
    source = PromptSource(counter_task(), [_episode(4), _episode(9)], "end", 8)
    together = source.prompt([0, 1, 2, 3])
    for i, seed in enumerate([0, 1, 2, 3]):
        np.testing.assert_array_equal(source.prompt([seed])["tokens"][0], together["tokens"][i])


def test_scalar_metric_names():
    from gato.results.report import scalar_metrics

    rows = [{"suite": "control", "task": "cartpole-swingup", "expert_normalized": 0.5,
             "human_normalized": None, "mean_return": 400.0},
            {"suite": "atari", "task": "pong", "expert_normalized": None,
             "human_normalized": 0.25, "mean_return": math.nan}]
    suites = [{"suite": "control", "mean_expert_normalized": 0.5, "median_expert_normalized": None}]
    assert scalar_metrics(rows, suites) == {
        "eval/control/cartpole-swingup/normalized_score": 0.5,
        "eval/control/cartpole-swingup/return": 400.0,
        "eval/atari/pong/human_normalized_score": 0.25,
        "eval/control/mean_expert_normalized": 0.5,
    }
