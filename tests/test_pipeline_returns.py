"""Training windows with return-to-go tokens: the return of each timestep over its whole episode,
in windows and prompts, and the config switch that must agree with the model."""

import numpy as np
import pytest

from gato.config import section
from gato.data.pipeline.examples import ExampleMaker, TaskData
from gato.envs import registry, specs
from gato.envs import returns as env_returns
from gato.testing import pipeline as fakes
from gato.tokenizers import returns
from gato.tokenizers.returns import ReturnSpec
from gato.tokenizers.sequence import Modality

SEQ_LEN = 72
STEP = fakes.CONTROL_TOKENS_PER_STEP + 1  # plus the return token


@pytest.mark.parametrize("placement", ["after_observation", "before_observation"])
def test_windows_carry_each_timesteps_return_to_go_over_the_whole_episode(placement):
    spec = fakes.CONTROL_SPEC.with_returns(ReturnSpec(-8.0, 8.0, placement))
    episodes = fakes.control_episodes(6, seed=4, min_len=20, max_len=40)
    maker = ExampleMaker([TaskData("walk", "control", spec, episodes)], np.ones(1), SEQ_LEN,
                         seed=0, prompt_fraction=0.5, prompt_tokens=2 * STEP)
    prompted = 0
    for index in range(30):
        ex = maker(index)
        is_return = ex["modality"] == Modality.RETURN
        # the return token is a target except inside a prompt
        body = int(np.flatnonzero(ex["loss_mask"])[0]) if ex["loss_mask"].any() else 0
        prompted += body > 1
        starts = np.flatnonzero((ex["local_pos"] == 0) & (ex["modality"] == Modality.DISCRETE)
                                & ~ex["is_action"])
        assert is_return.sum() == len(starts) > 0
        for s, r in zip(starts, np.flatnonzero(is_return), strict=True):
            # where the return token sits: before the observation or after its 5 tokens
            assert r == (s - 1 if placement == "before_observation" else s + 5)
            episode, step = int(ex["tokens"][s]), int(ex["tokens"][s + 4])
            rtg = returns.return_to_go(episodes[episode]["reward"])[step]
            assert ex["tokens"][r] == returns.tokenize(np.array([rtg]), spec.returns)[0]
            assert ex["loss_mask"][r] == (r >= body)
    assert prompted > 3


def test_episodes_without_rewards_are_bad_for_return_tokens():
    from gato.data.pipeline.windows import BadEpisodeError, validate_episode

    spec = fakes.CONTROL_SPEC.with_returns(ReturnSpec(0.0, 1.0))
    episode = fakes.control_episodes(1, seed=0)[0]
    validate_episode(spec, episode)
    with pytest.raises(BadEpisodeError, match="rewards"):
        validate_episode(spec, {k: v for k, v in episode.items() if k != "reward"})


def test_returns_config_gives_reference_ranges_and_checks_the_model():
    data = section("data")
    config = data.returns
    task = registry.get("cartpole-swingup")
    assert specs.task_spec(task, data).returns is None  # off by default
    config.enabled = True
    spec = specs.task_spec(task, data).returns
    from gato.envs import scores

    expert = scores.reference("cartpole-swingup")["expert_mean"]
    assert spec.low == 0.0 and spec.high == pytest.approx(1.25 * expert)
    assert spec.placement == "after_observation"
    pong = scores.reference("pong")
    low, high = env_returns.return_range("pong", config)
    assert low == pong["random_mean"] < 0 and high == pytest.approx(
        low + 1.25 * (pong["expert_mean"] - low))
    config.ranges = {"cartpole-swingup": [10, 20]}
    assert env_returns.return_range("cartpole-swingup", config) == (10.0, 20.0)
    config.range = "dataset"
    with pytest.raises(ValueError, match="data.returns.range"):
        env_returns.return_range("pong", config)
    env_returns.check_model(config, True)
    with pytest.raises(ValueError, match="needs a model with return tokens"):
        env_returns.check_model(config, False)
    with pytest.raises(ValueError, match="data.returns.enabled is False"):
        env_returns.check_model(env_returns.default_returns_config(), True)
    env_returns.check_model(env_returns.default_returns_config(), False)
