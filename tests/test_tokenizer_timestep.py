"""Timestep tokenizer: layout of mixed-modality timesteps, episodes, actions, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gato.tokenizers import continuous, sequence, timestep
from gato.tokenizers.sequence import Modality
from gato.tokenizers.spec import TimestepSpec
from gato.tokenizers.text import default_tokenizer
from gato.tokenizers.vocab import SEPARATOR_ID

MIXED = TimestepSpec(
    observation={"pixels": "image", "body/joints": "continuous", "body/contact": "discrete"},
    action_kind="continuous",
    action_shape=(2, 2),
    action_minimum=-0.5,
    action_maximum=1.0,
)
ATARI = TimestepSpec(observation={"pixels": "image"}, action_kind="discrete", action_shape=(),
                     num_actions=18)


def mixed_observation(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "pixels": rng.integers(0, 256, (32, 48, 3), dtype=np.uint8),
        "body": {"joints": rng.normal(size=(3,)) * 10, "contact": np.array([[1, 0], [0, 7]])},
    }


def test_mixed_timestep_layout():
    obs, action = mixed_observation(), np.array([[0.1, -0.2], [0.3, 0.9]])
    seq = timestep.tokenize_timestep(MIXED, obs, action)
    sequence.validate(seq)
    # order: body/contact (4 discrete), body/joints (3 continuous), pixels (6 patches), sep, 4 act
    assert sequence.length(seq) == 4 + 3 + 6 + 1 + 4
    want_modality = [Modality.DISCRETE] * 4 + [Modality.CONTINUOUS] * 3 + [Modality.IMAGE] * 6 + [
        Modality.SEPARATOR] + [Modality.CONTINUOUS] * 4
    assert seq["modality"].tolist() == want_modality
    assert seq["tokens"][:4].tolist() == [1, 0, 0, 7]
    np.testing.assert_array_equal(seq["tokens"][4:7], continuous.tokenize(obs["body"]["joints"]))
    assert not seq["tokens"][7:13].any() and seq["tokens"][13] == SEPARATOR_ID
    assert seq["local_pos"].tolist() == list(range(13)) + [0] * 5
    assert seq["loss_mask"].tolist() == [False] * 14 + [True] * 4
    assert seq["is_action"].tolist() == [False] * 14 + [True] * 4
    assert seq["patches"][7:13].any() and not seq["patches"][:7].any()
    assert seq["patch_pos"][7].tolist() == [0.0, 0.5, 0.0, pytest.approx(1 / 3)]
    assert timestep.tokens_per_timestep(
        MIXED, {"pixels": (32, 48, 3), "body": {"joints": (3,), "contact": (2, 2)}}) == 18


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float64, (2, 2), elements=st.floats(-1, 1, allow_nan=False)))
def test_continuous_action_round_trip_and_clip(action):
    seq = timestep.tokenize_timestep(MIXED, mixed_observation(), action)
    back = timestep.detokenize_action(MIXED, seq["tokens"][-4:])
    assert back.shape == (2, 2) and back.dtype == np.float32
    np.testing.assert_allclose(back, np.clip(action, -0.5, 1.0), atol=1 / 1024 + 1e-6)


def test_discrete_action_and_episode():
    frames = np.random.default_rng(0).integers(0, 256, (3, 16, 32, 1), dtype=np.uint8)
    actions = np.array([0, 17, 5])
    seq = timestep.tokenize_episode(ATARI, {"pixels": frames}, actions)
    sequence.validate(seq)
    per_step = 2 + 1 + 1
    assert sequence.length(seq) == 3 * per_step
    assert seq["tokens"][per_step - 1 :: per_step].tolist() == [0, 17, 5]
    assert seq["tokens"][per_step - 2 :: per_step].tolist() == [SEPARATOR_ID] * 3
    assert seq["local_pos"].tolist() == [0, 1, 0, 0] * 3
    first = timestep.tokenize_timestep(ATARI, {"pixels": frames[1]}, actions[1])
    for name in sequence.FIELDS:
        np.testing.assert_array_equal(seq[name][per_step : 2 * per_step], first[name])
    assert timestep.detokenize_action(ATARI, [17]).tolist() == 17
    assert timestep.action_token_range(ATARI) == (0, 18)
    assert timestep.action_token_range(MIXED) == (32000, 33024)


def test_text_observation_has_no_loss():
    spec = TimestepSpec(observation={"instruction": "text", "x": "discrete"},
                        action_kind="discrete", action_shape=(1,), num_actions=4)
    seq = timestep.tokenize_timestep(spec, {"instruction": "go left", "x": np.array([3])}, [2])
    n_text = len(default_tokenizer().encode("go left"))
    assert seq["modality"][:n_text].tolist() == [Modality.TEXT] * n_text
    assert not seq["loss_mask"][:-1].any() and seq["loss_mask"][-1]


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda o: o.update(pixels=o["pixels"].astype(np.float32)), "'pixels'.*uint8"),
        (lambda o: o.update(pixels=o["pixels"][:20]), r"'pixels'.*\(20, 48, 3\)"),
        (lambda o: o["body"].update(joints=np.array([0.0, np.nan])), "'body/joints'.*NaN"),
        (lambda o: o["body"].update(contact=np.array([1024])), "'body/contact'.*1024"),
        (lambda o: o["body"].update(contact=np.array([0.5])), "'body/contact'.*integer"),
        (lambda o: o["body"].pop("joints"), r"missing \['body/joints'\]"),
        (lambda o: o.update(extra=np.zeros(1)), r"unexpected \['extra'\]"),
    ],
)
def test_bad_observations_name_the_key(change, match):
    obs = mixed_observation()
    change(obs)
    with pytest.raises(ValueError, match=match):
        timestep.tokenize_timestep(MIXED, obs, np.zeros((2, 2)))


def test_bad_actions_raise():
    obs = mixed_observation()
    with pytest.raises(ValueError, match="'action'.*NaN"):
        timestep.tokenize_timestep(MIXED, obs, np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match=r"action: expected shape \(2, 2\)"):
        timestep.tokenize_timestep(MIXED, obs, np.zeros(3))
    with pytest.raises(ValueError, match=r"action: value 18 outside \[0, 18\)"):
        timestep.tokenize_timestep(ATARI, {"pixels": obs["pixels"]}, 18)
    with pytest.raises(ValueError, match="action ids must be in"):
        timestep.detokenize_action(ATARI, [18])
    with pytest.raises(ValueError, match="'pixels': 2 steps"):
        timestep.tokenize_episode(ATARI, {"pixels": np.zeros((2, 16, 16, 3), np.uint8)}, [1, 2, 3])


@pytest.mark.parametrize("spec", [MIXED, ATARI], ids=["mixed", "atari"])
def test_vectorized_episode_equals_concatenated_timesteps(spec):
    steps = 4
    obs = [mixed_observation(seed) for seed in range(steps)]
    if spec is ATARI:
        obs = [{"pixels": o["pixels"]} for o in obs]
        actions = np.array([3, 0, 17, 9])
    else:
        actions = np.random.default_rng(1).uniform(-1, 1, (steps, 2, 2))
    stacked = {"pixels": np.stack([o["pixels"] for o in obs])}
    if spec is MIXED:
        stacked["body"] = {k: np.stack([o["body"][k] for o in obs]) for k in obs[0]["body"]}
    episode = timestep.tokenize_episode(spec, stacked, actions)
    want = sequence.concat(
        [timestep.tokenize_timestep(spec, o, a) for o, a in zip(obs, actions, strict=True)])
    sequence.validate(episode)
    for name in sequence.FIELDS:
        np.testing.assert_array_equal(episode[name], want[name], err_msg=name)
