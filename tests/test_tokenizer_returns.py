"""Return-to-go tokens: return-to-go and its decrement, bins and their inverse, timestep layout."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gato.tokenizers import returns, sequence, timestep
from gato.tokenizers.returns import ReturnSpec
from gato.tokenizers.sequence import Modality
from gato.tokenizers.spec import TimestepSpec
from gato.tokenizers.vocab import RETURN_BINS, RETURN_OFFSET, SEPARATOR_ID, VOCAB_SIZE

SPEC = TimestepSpec(observation={"b": "continuous", "a": "discrete"}, action_kind="continuous",
                    action_shape=(2,), action_minimum=-1.0, action_maximum=1.0)
RANGE = ReturnSpec(low=-10.0, high=110.0)  # 1 return unit per bin


def test_return_to_go_sums_the_remaining_rewards():
    rewards = np.array([1.0, 0.0, 2.5, -1.0, 0.0])
    rtg = returns.return_to_go(rewards)
    np.testing.assert_allclose(rtg, [2.5, 1.5, 1.5, -1.0, 0.0])
    # the decrement: R_t - R_{t+1} = r_t, and R_0 is the episode return
    np.testing.assert_allclose(rtg[:-1] - rtg[1:], rewards[:-1])
    assert rtg[0] == rewards.sum()
    with pytest.raises(ValueError, match=r"\[T\]"):
        returns.return_to_go(np.zeros((2, 2)))


def test_bins_are_uniform_over_the_range_and_clip():
    assert returns.to_bins(np.array([-10.0, -9.01, 0.0, 109.99, 110.0]), RANGE).tolist() == [
        0, 0, 10, 119, 119]
    assert returns.to_bins(np.array([-1e6, 1e6]), RANGE).tolist() == [0, RETURN_BINS - 1]
    assert returns.tokenize(np.array([0.0]), RANGE).tolist() == [RETURN_OFFSET + 10]
    assert RETURN_OFFSET == VOCAB_SIZE and returns.token_range() == (
        VOCAB_SIZE, VOCAB_SIZE + RETURN_BINS)
    np.testing.assert_allclose(returns.bin_positions()[[0, -1]], [0.0, 1.0])


def test_bin_inverse_is_exact_on_bins():
    bins = np.arange(RETURN_BINS)
    np.testing.assert_array_equal(returns.to_bins(returns.from_bins(bins, RANGE), RANGE), bins)
    np.testing.assert_allclose(returns.from_bins(np.array([0, 119]), RANGE), [-9.5, 109.5])
    ids = returns.tokenize(returns.from_bins(bins, RANGE), RANGE)
    np.testing.assert_allclose(returns.detokenize(ids, RANGE), returns.from_bins(bins, RANGE))
    with pytest.raises(ValueError, match="return token ids"):
        returns.detokenize(np.array([SEPARATOR_ID]), RANGE)
    with pytest.raises(ValueError, match="bins must be in"):
        returns.from_bins(np.array([RETURN_BINS]), RANGE)


@settings(max_examples=100, deadline=None)
@given(st.floats(-3.0, 7.0, allow_nan=False), st.floats(0.5, 1000.0),
       st.floats(0.0, 1.0))
def test_round_trip_within_half_a_bin(low, span, where):
    spec = ReturnSpec(low, low + span)
    value = low + where * span
    back = returns.from_bins(returns.to_bins(np.array([value]), spec), spec)[0]
    assert abs(back - value) <= spec.bin_width / 2 + 1e-9 * span


def test_return_spec_rejects_bad_ranges_and_placements():
    with pytest.raises(ValueError, match="high > low"):
        ReturnSpec(5.0, 5.0)
    with pytest.raises(ValueError, match="finite"):
        ReturnSpec(0.0, float("inf"))
    with pytest.raises(ValueError, match="placement"):
        ReturnSpec(0.0, 1.0, placement="after_action")
    with pytest.raises(ValueError, match="ReturnSpec"):
        TimestepSpec(observation={"a": "discrete"}, action_kind="discrete", action_shape=(),
                     num_actions=3, returns=(0.0, 1.0))


def _episode(steps: int = 4):
    rng = np.random.default_rng(0)
    obs = {"a": rng.integers(0, 5, (steps, 2)), "b": rng.normal(size=(steps, 3))}
    return obs, rng.uniform(-1, 1, (steps, 2)), rng.uniform(0, 10, steps)


@pytest.mark.parametrize("placement", ["after_observation", "before_observation"])
def test_layout_of_a_timestep_with_a_return_token(placement):
    spec = SPEC.with_returns(ReturnSpec(-10.0, 110.0, placement))
    obs, actions, rewards = _episode()
    rtg = returns.return_to_go(rewards)
    seq = timestep.tokenize_episode(spec, obs, actions, rtg)
    sequence.validate(seq)
    per_step = 2 + 3 + 1 + 1 + 2  # discrete, continuous, return, separator, actions
    assert sequence.length(seq) == 4 * per_step
    assert timestep.tokens_per_timestep(spec, {"a": (2,), "b": (3,)}) == per_step
    at = 0 if placement == "before_observation" else 5
    step = sequence.slice_(seq, 0, per_step)
    want_modality = [Modality.DISCRETE] * 2 + [Modality.CONTINUOUS] * 3
    want_modality.insert(at, Modality.RETURN)
    assert step["modality"].tolist() == want_modality + [Modality.SEPARATOR] + [
        Modality.CONTINUOUS] * 2
    obs_pos = [i for i in range(per_step) if i != at][:5]
    assert step["local_pos"][obs_pos].tolist() == [0, 1, 2, 3, 4]
    assert step["local_pos"][at] == 0 and not step["is_action"][at]
    assert step["loss_mask"].tolist() == [i == at for i in range(6)] + [False, True, True]
    # one return token per timestep, decreasing by each reward (in bins)
    ids = seq["tokens"][seq["modality"] == Modality.RETURN]
    np.testing.assert_array_equal(ids, returns.tokenize(rtg, spec.returns))
    np.testing.assert_allclose(returns.detokenize(ids, spec.returns), rtg, atol=0.5)
    # the vectorized episode equals concatenating single timesteps
    steps = [timestep.tokenize_timestep(spec, {k: v[t] for k, v in obs.items()}, actions[t],
                                        rtg[t]) for t in range(4)]
    for name, value in sequence.concat(steps).items():
        np.testing.assert_array_equal(seq[name], value)
    # without return tokens the layout is Gato's
    plain = timestep.tokenize_episode(SPEC, obs, actions)
    np.testing.assert_array_equal(plain["tokens"], seq["tokens"][seq["modality"] !=
                                                                  Modality.RETURN])


def test_return_values_must_match_the_spec():
    obs, actions, rewards = _episode(3)
    spec = SPEC.with_returns(RANGE)
    with pytest.raises(ValueError, match="pass the return-to-go"):
        timestep.tokenize_episode(spec, obs, actions)
    with pytest.raises(ValueError, match="has no return tokens"):
        timestep.tokenize_episode(SPEC, obs, actions, rewards)
    with pytest.raises(ValueError, match="2 values for 3 timesteps"):
        timestep.tokenize_episode(spec, obs, actions, rewards[:2])
