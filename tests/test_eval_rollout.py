"""The rollout loop with scripted and model-backed agents (fake counter task, tiny model)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gato.eval.agent import ModelAgent, compiled_decoder
from gato.eval.config import default_eval_config
from gato.eval.evaluator import Evaluator
from gato.eval.prompts import PromptSource
from gato.eval.rollout import run_batch
from gato.eval.scripted import PolicyAgent, TokenReplayAgent
from gato.model import init_cache
from gato.model.gato import MODEL_FIELDS
from gato.testing.eval import CounterExpert, counter_task, crashing_task, tiny_model


@pytest.fixture(scope="module")
def tiny():
    return tiny_model(seed=0, max_len=32)  # a 32-token cache: 20-step episodes slide the window


def _expert_agent():
    return PolicyAgent(lambda env: CounterExpert())


def test_scripted_expert_gets_full_return():
    task = counter_task(length=12)
    episodes, _ = run_batch(task, _expert_agent(), [0, 1, 2], max_steps=50)
    assert [e["return"] for e in episodes] == [12.0, 12.0, 12.0]
    assert [e["length"] for e in episodes] == [12, 12, 12]
    assert all(e["error"] is None for e in episodes)


def test_token_replay_agent_matches_expert_and_stays_in_range():
    task = counter_task(length=10, action_dims=2)
    agent = TokenReplayAgent(lambda env: CounterExpert((2,)), task)
    episodes, _ = run_batch(task, agent, [3, 4], max_steps=50)
    assert [e["return"] for e in episodes] == [10.0, 10.0]
    ids = np.concatenate(agent.emitted)
    assert ids.min() >= 0 and ids.max() < 4


def test_episode_cap_truncates():
    task = counter_task(length=12)
    episodes, _ = run_batch(task, _expert_agent(), [0, 1], max_steps=5)
    assert [e["length"] for e in episodes] == [5, 5]
    assert [e["return"] for e in episodes] == [5.0, 5.0]


def test_crashing_env_is_recorded_and_others_scored():
    task = crashing_task(counter_task(length=12), crash_at=4, crash_seeds={1})
    episodes, _ = run_batch(task, _expert_agent(), [0, 1, 2], max_steps=50)
    assert episodes[1]["error"] is not None and "step 4" in episodes[1]["error"]
    assert episodes[1]["length"] == 4
    assert [episodes[i]["return"] for i in (0, 2)] == [12.0, 12.0]
    assert episodes[0]["error"] is None and episodes[2]["error"] is None


def test_model_agent_batched_equals_unbatched_greedy(tiny):
    task = counter_task(length=20)
    model, params = tiny
    seeds = [5, 6, 7]
    agent = ModelAgent(model, params, task.spec, decoding="greedy")
    batched, _ = run_batch(task, agent, seeds, max_steps=20)
    single = [run_batch(task, agent, [s], max_steps=20)[0][0] for s in seeds]
    assert [e["return"] for e in batched] == [e["return"] for e in single]
    assert all(e["length"] == 20 for e in batched)


def test_model_agent_batched_equals_unbatched_sampling(tiny):
    task = counter_task(length=10, action_dims=3)  # 3 action tokens decoded per step
    model, params = tiny
    agent = ModelAgent(model, params, task.spec, temperature=1.0)
    batched, _ = run_batch(task, agent, [5, 6, 7], max_steps=10)
    single = [run_batch(task, agent, [s], max_steps=10)[0][0] for s in (5, 6, 7)]
    assert [e["return"] for e in batched] == [e["return"] for e in single]
    assert agent.last_ids.shape == (1, 3) and agent.last_ids.max() < 4
    hot = ModelAgent(model, params, task.spec, temperature=100.0)
    returns = {run_batch(task, hot, [s], max_steps=10)[0][0]["return"] for s in range(8)}
    assert len(returns) > 1  # sampling does depend on the seed


def _demo(steps: int) -> dict:
    return {"observation": {"target": np.arange(steps, dtype=np.int32) % 4,
                            "time": np.arange(steps, dtype=np.int32)},
            "action": np.arange(steps, dtype=np.int32) % 4,
            "is_last": np.arange(steps) == steps - 1}


def test_model_agent_feeds_prompt_then_observations(tiny):
    task = counter_task(length=6)
    model, params = tiny
    prompt = PromptSource(task, [_demo(20)], "end", 40).prompt([5, 6, 7])  # > cache_len 32
    agent = ModelAgent(model, params, task.spec, decoding="greedy")
    agent.reset(3, prompt, seeds=[5, 6, 7])
    np.testing.assert_array_equal(np.asarray(agent._cache.count), [40, 40, 40])
    env_steps = [counter_task(length=6).make_env(s).reset() for s in (5, 6, 7)]
    actions = agent.act(env_steps, np.array([True, False, True]))
    assert actions[1] is None and all(0 <= int(actions[i]) < 4 for i in (0, 2))
    fresh = jax.tree.map(jnp.copy, init_cache(model.config, 3, 32))  # extend donates the cache
    first = {k: jnp.asarray(v[:, :1]) for k, v in prompt.items() if k in MODEL_FIELDS}
    logits, _ = compiled_decoder(model.config).extend(params, first, fresh)
    unconstrained = np.asarray(logits).argmax(-1)
    assert (unconstrained >= 4).any()  # the model's own favourites lie outside the range...
    assert agent.last_ids.shape == (3, 1) and agent.last_ids.max() < 4  # ...decoding is masked
    # 2 observation tokens + separator appended; the 1 action token waits for the next call
    np.testing.assert_array_equal(np.asarray(agent._cache.count), [43, 43, 43])
    batched, _ = run_batch(task, agent, [5, 6, 7], max_steps=6, prompt=prompt)
    single = [run_batch(task, agent, [s], 6, prompt={k: v[i:i + 1] for k, v in prompt.items()}
                        )[0][0] for i, s in enumerate((5, 6, 7))]
    assert [e["return"] for e in batched] == [e["return"] for e in single]


def test_evaluator_run_returns_named_metrics(tiny, tmp_path):
    model, params = tiny
    config = default_eval_config()
    config.update({"episodes": 3, "batch_size": 3, "prompt": "none", "decoding": "greedy",
                   "gif": False})
    metrics = Evaluator(config, model, tasks=[counter_task(length=6)], workdir=tmp_path).run(
        params, step=3)
    assert 0.0 <= metrics["eval/test/test-counter/return"] <= 6.0
    assert (tmp_path / "eval" / "step_3" / "results.json").exists()
