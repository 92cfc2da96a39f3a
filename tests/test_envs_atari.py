"""Atari preprocessing: frame sizes, colour, frame skip, episode cap, RAM access, bad input."""

import numpy as np
import pytest

from gato.envs import atari


def test_default_frames_are_80x80_gray():
    env = atari.make_env("pong", seed=0, noop_max=0)
    timestep = env.reset()
    pixels = timestep.observation["pixels"]
    assert pixels.shape == (80, 80, 1) and pixels.dtype == np.uint8
    assert env.observation_spec()["pixels"].shape == (80, 80, 1)
    assert env.action_spec().num_values == len(env.actions) == 6
    assert env.ram().shape == (128,) and env.ram().dtype == np.uint8


def test_rgb_resize_and_frame_skip():
    env = atari.make_env("breakout", seed=0, grayscale=False, height=96, width=64, frame_skip=3,
                         noop_max=0)
    env.reset()
    start = env.ale.getEpisodeFrameNumber()
    timestep = env.step(1)
    assert env.ale.getEpisodeFrameNumber() - start == 3
    assert timestep.observation["pixels"].shape == (96, 64, 3)
    assert timestep.observation["pixels"].max() > 0


def test_max_pool_over_last_two_frames():
    env = atari.make_env("pong", seed=0, noop_max=0, grayscale=False)
    env.reset()
    for _ in range(100):  # until the ball is in play and moves between the two frames
        env.step(0)
        if not np.array_equal(env._frames[0], env._frames[1]):
            break
    assert not np.array_equal(env._frames[0], env._frames[1])
    pooled = np.maximum(env._frames[0], env._frames[1])
    expected = atari.preprocess(pooled, env.config)
    np.testing.assert_array_equal(env._observation()["pixels"], expected)
    assert not np.array_equal(expected, atari.preprocess(env._frames[1], env.config))


def test_episode_cap_truncates_and_no_op_starts_are_seeded():
    env = atari.make_env("freeway", seed=0, max_episode_steps=5, noop_max=0)
    timestep = env.reset()
    for _ in range(5):
        timestep = env.step(0)
    assert timestep.last() and timestep.discount == 1.0
    assert env.step(0).first()  # stepping after the end starts a new episode
    frames = []
    for seed in (1, 2, 1):
        env = atari.make_env("pong", seed=seed, noop_max=30)
        env.reset()
        frames.append(env.ale.getEpisodeFrameNumber())
    assert frames[0] == frames[2]


def test_bad_inputs_fail_clearly():
    with pytest.raises(ValueError, match="multiples of 16"):
        atari.AtariConfig(game="pong", height=84, width=84)
    with pytest.raises(ValueError, match="unknown Atari game 'pongg'.*pong"):
        atari.make_env("pongg", seed=0)
    env = atari.make_env("pong", seed=0, noop_max=0)
    env.reset()
    with pytest.raises(ValueError, match=r"action 6 outside \[0, 6\)"):
        env.step(6)
