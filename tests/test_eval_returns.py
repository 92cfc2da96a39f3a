"""Return-conditioned evaluation: targets, expert-action inference, the agent's return tokens."""

import dataclasses

import jax
import numpy as np
import pytest

from gato.config import complete
from gato.eval.agent import ModelAgent
from gato.eval.config import default_eval_config, validate
from gato.eval.evaluator import Evaluator
from gato.eval.prompts import PromptSource
from gato.eval.returns import (
    ExpertInference,
    ReturnConditioning,
    ReturnTarget,
    expert_return_probs,
    initial_return,
    parse_return_target,
    sample_expert_returns,
)
from gato.eval.rollout import run_batch
from gato.testing.eval import counter_task, tiny_model
from gato.tokenizers import returns
from gato.tokenizers.returns import ReturnSpec
from gato.tokenizers.timestep import action_token_range, tokenize_episode
from gato.tokenizers.vocab import RETURN_BINS, RETURN_OFFSET

RANGE = ReturnSpec(0.0, 12.0)  # 0.1 return per bin
FIXED = ReturnTarget("return", 8.0)


@pytest.fixture(scope="module")
def model():
    return tiny_model(seed=0, max_len=64, return_tokens=True)


def test_return_targets_parse_and_bad_ones_say_what_is_accepted():
    assert parse_return_target("none") == ReturnTarget("none")
    assert parse_return_target("Expert") == ReturnTarget("expert")
    assert parse_return_target("850") == ReturnTarget("return", 850.0)
    assert parse_return_target(-3) == ReturnTarget("return", -3.0)
    assert parse_return_target("0.9xexpert") == ReturnTarget("expert_fraction", 0.9)
    assert parse_return_target("1.2 x expert") == ReturnTarget("expert_fraction", 1.2)
    assert parse_return_target("q0.75") == ReturnTarget("quantile", 0.75)
    assert str(parse_return_target("0.9xexpert")) == "0.9xexpert"
    for bad in ("best", "0.9xhuman", "q", "", "nan"):
        with pytest.raises(ValueError, match="none|finite"):
            parse_return_target(bad)
    with pytest.raises(ValueError, match=r"quantile q1.5 must be in \[0, 1\]"):
        parse_return_target("q1.5")


def test_bad_expert_options_are_rejected_by_name():
    with pytest.raises(ValueError, match="kappa must be >= 0"):
        ExpertInference(kappa=-1.0)
    with pytest.raises(ValueError, match="samples must be >= 1"):
        ExpertInference(samples=0)
    with pytest.raises(ValueError, match="inverse temperature must be > 0"):
        ExpertInference(inverse_temperature=0.0)
    config = default_eval_config()
    validate(config)
    config.return_target = "bestest"
    with pytest.raises(ValueError, match="eval.return_target: unknown return target 'bestest'"):
        validate(config)
    config.return_target, config.return_kappa = "expert", -0.5
    with pytest.raises(ValueError, match="eval.return_kappa.*kappa must be >= 0"):
        validate(config)


def _three_bins(probabilities) -> np.ndarray:
    """Return logits [1, RETURN_BINS]: log-probabilities at bins 0, 59, 119, -inf elsewhere."""
    logits = np.full((1, RETURN_BINS), -np.inf, np.float32)
    logits[0, [0, 59, 119]] = np.log(probabilities)
    return logits


@pytest.mark.parametrize("options,want", [
    # the best of 3 draws of P = (0.5, 0.3, 0.2): F = (0.5, 0.8, 1), F^3 = (0.125, 0.512, 1)
    (ExpertInference(kappa=0.0, samples=3, inverse_temperature=1.0), [0.125, 0.387, 0.488]),
    # inverse temperature 2: P^2 = (0.25, 0.09, 0.04) / 0.38
    (ExpertInference(kappa=0.0, samples=1, inverse_temperature=2.0),
     [0.25 / 0.38, 0.09 / 0.38, 0.04 / 0.38]),
    # kappa ln 4 and u = (0, 59/119, 1): weights (1, 4^(59/119), 4) times (0.5, 0.3, 0.2)
    (ExpertInference(kappa=float(np.log(4.0)), samples=1, inverse_temperature=1.0),
     np.array([0.5, 0.3 * 4 ** (59 / 119), 0.8]) / (0.5 + 0.3 * 4 ** (59 / 119) + 0.8)),
])
def test_expert_sampling_rule_matches_a_hand_computed_distribution(options, want):
    logits = _three_bins([0.5, 0.3, 0.2])
    probs = expert_return_probs(logits, options)[0]
    np.testing.assert_allclose(probs[[0, 59, 119]], want, atol=1e-6)
    assert probs.sum() == pytest.approx(1.0) and probs[[0, 59, 119]].sum() == pytest.approx(1.0)
    draws = 20_000
    keys = jax.random.split(jax.random.key(0), draws)
    bins = np.asarray(sample_expert_returns(jax.random.key_data(keys),
                                            np.repeat(logits, draws, 0), options.kappa,
                                            options.samples, options.inverse_temperature))
    assert set(np.unique(bins)) <= {0, 59, 119}
    freq = np.array([(bins == b).mean() for b in (0, 59, 119)])
    np.testing.assert_allclose(freq, want, atol=0.015)


def test_initial_returns_of_each_target():
    assert initial_return(ReturnTarget("return", 7.0), "x") == 7.0
    assert initial_return(ReturnTarget("expert"), "x") is None
    from gato.envs import scores

    expert = scores.reference("cartpole-swingup")["expert_mean"]
    assert initial_return(ReturnTarget("expert_fraction", 0.5), "cartpole-swingup") == \
        pytest.approx(0.5 * expert)
    data = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert initial_return(ReturnTarget("quantile", 0.5), "x", data) == 3.0
    with pytest.raises(ValueError, match="needs the returns of its dataset"):
        initial_return(ReturnTarget("quantile", 0.5), "x", None)


def _agent(model, placement="after_observation", target=FIXED, initial=8.0, **options):
    net, params = model
    spec = counter_task().spec.with_returns(dataclasses.replace(RANGE, placement=placement))
    return ModelAgent(net, params, spec, decoding="greedy",
                      returns=ReturnConditioning(target, initial, ExpertInference(**options)))


def test_return_targets_need_a_model_with_return_tokens(model):
    plain_model, plain_params = tiny_model(seed=0, max_len=64)
    spec = counter_task().spec
    with pytest.raises(ValueError, match="model trained without return tokens"):
        ModelAgent(plain_model, plain_params, spec,
                   returns=ReturnConditioning(ReturnTarget("return", 5.0), 5.0))
    ModelAgent(plain_model, plain_params, spec)  # "none" is fine
    with pytest.raises(ValueError, match="spec with its return tokens"):
        ModelAgent(*model, spec)
    with pytest.raises(ValueError, match="needs the episode's initial return"):
        ReturnConditioning(ReturnTarget("return", 5.0))


class _Recorder:
    """Wraps a ModelAgent; records each step's observations, rewards, actions and return ids."""

    def __init__(self, agent):
        self.agent, self.steps = agent, []

    def reset(self, *args, **kwargs):
        self.steps = []
        self.agent.reset(*args, **kwargs)

    def act(self, timesteps, active):
        actions = self.agent.act(timesteps, active)
        self.steps.append({"observation": [t.observation for t in timesteps],
                           "reward": [t.reward for t in timesteps], "active": active.copy(),
                           "actions": self.agent.last_ids[:, 0].copy(),
                           "returns": self.agent.last_return_ids.copy()})
        return actions


def test_rollout_subtracts_each_reward_from_the_return_to_go(model):
    recorder = _Recorder(_agent(model, initial=8.0))
    task = counter_task(length=12)
    episodes, _ = run_batch(task, recorder, [1, 2, 3], max_steps=12)
    assert [e["length"] for e in episodes] == [12, 12, 12]
    for row in range(3):
        rewards = [s["reward"][row] or 0.0 for s in recorder.steps]
        want = 8.0 - np.cumsum(rewards)  # the first timestep reports no reward
        ids = [s["returns"][row] for s in recorder.steps]
        np.testing.assert_array_equal(ids, returns.tokenize(want, RANGE))
        assert sum(rewards[1:]) + float(episodes[row]["return"] - sum(rewards[1:])) == \
            episodes[row]["return"]
    assert sum(episodes[r]["return"] for r in range(3)) > 0  # some rewards were subtracted


def _replay_logits(model, spec, steps, returns_to_go):
    """Full-forward logits of row 0's trajectory tokenized in the training layout."""
    net, params = model
    obs = {k: np.stack([s["observation"][0][k] for s in steps]) for k in ("target", "time")}
    actions = np.array([s["actions"][0] for s in steps])
    seq = tokenize_episode(spec, obs, actions, returns_to_go)
    batch = {k: v[None] for k, v in seq.items()}
    return seq, np.asarray(net.apply({"params": params}, batch))[0]


@pytest.mark.parametrize("placement", ["after_observation", "before_observation"])
@pytest.mark.parametrize("mode", ["return", "expert"])
def test_agent_decodes_in_the_training_layout(model, placement, mode):
    """Greedy actions (and, drawn with kappa, return tokens) equal what a full forward pass of
    the same trajectory in the training layout predicts: the agent's cache holds exactly the
    tokens training windows hold. "before_observation" draws its first return after a prompt."""
    target = ReturnTarget(mode, 8.0 if mode == "return" else 0.0)
    agent = _agent(model, placement, target, 8.0 if mode == "return" else None,
                   kappa=1e4, samples=4)
    recorder = _Recorder(agent)
    task = counter_task(length=8)
    prompt = None
    if placement == "before_observation" and mode == "expert":
        demo = {"observation": {"target": np.arange(6, dtype=np.int32) % 4,
                                "time": np.arange(6, dtype=np.int32)},
                "action": np.arange(6, dtype=np.int32) % 4, "reward": np.ones(6, np.float32)}
        prompt = PromptSource(task, [demo], "end", 10, spec=agent.spec).prompt([4])
        assert (prompt["tokens"] >= RETURN_OFFSET).sum() == 2  # the prompt has its returns
    run_batch(task, recorder, [4], max_steps=8, prompt=prompt)
    ids = np.array([s["returns"][0] for s in recorder.steps])
    values = returns.detokenize(ids, agent.spec.returns)
    if mode == "expert":  # kappa 1e4: every draw is the highest bin
        assert (ids == RETURN_OFFSET + RETURN_BINS - 1).all()
    seq, logits = _replay_logits(model, agent.spec, recorder.steps, values)
    if prompt is not None:
        full = {k: np.concatenate([prompt[k][0], seq[k]]) for k in seq}
        net, params = model
        logits = np.asarray(net.apply({"params": params}, {k: v[None] for k, v in full.items()})
                            )[0][prompt["tokens"].shape[1]:]
    lo, hi = action_token_range(agent.spec)
    at = np.flatnonzero(seq["is_action"])
    if prompt is None:
        assert at[0] > 0
    chosen = [int(np.argmax(logits[i - 1, lo:hi])) for i in at if i > 0]
    np.testing.assert_array_equal(chosen, seq["tokens"][at[at > 0]])


def test_sampled_returns_do_not_depend_on_the_batch(model):
    agent = _agent(model, target=ReturnTarget("none"), initial=None)
    recorder = _Recorder(agent)
    task = counter_task(length=6)
    run_batch(task, recorder, [5, 6, 7], max_steps=6)
    batched = np.array([s["returns"] for s in recorder.steps])
    for row, seed in enumerate((5, 6, 7)):
        run_batch(task, recorder, [seed], max_steps=6)
        np.testing.assert_array_equal([s["returns"][0] for s in recorder.steps], batched[:, row])
    assert len(np.unique(batched)) > 3  # "none" draws from P(R | history): they vary


def test_evaluator_records_the_requested_return(model, tmp_path):
    net, params = model
    config = default_eval_config()
    config.update({"episodes": 2, "batch_size": 2, "prompt": "none", "gif": False,
                   "return_target": "6.5"})
    evaluator = Evaluator(config, net, tasks=[counter_task(length=4)], workdir=tmp_path,
                          data_config=complete({"data": {"returns": {
                              "enabled": True, "ranges": {"test-counter": [0, 12]}}}}).data)
    evaluator.run(params, step=1)
    import json

    results = json.loads((tmp_path / "eval" / "step_1" / "results.json").read_text())
    row = results["tasks"][0]
    assert row["return_target"] == "6.5" and row["requested_return"] == 6.5
    config.return_target = "none"
    plain_model, plain_params = tiny_model(seed=0, max_len=64)
    Evaluator(config, plain_model, tasks=[counter_task(length=4)]).run(plain_params, step=1)
    config.return_target = "0.5xexpert"
    with pytest.raises(ValueError, match="trained without return tokens"):
        Evaluator(config, plain_model, tasks=[counter_task(length=4)]).run(plain_params, 1)
