"""Stacked frames (TimestepSpec.frame_stack): the same frames in training windows, prompts and
rollouts, wherever a window is cut."""

import dataclasses

import dm_env
import numpy as np
import pytest
from dm_env import specs as dm_specs

from gato.config import complete
from gato.data.pipeline import windows
from gato.envs import specs
from gato.envs.registry import Task
from gato.eval import agent as agent_lib
from gato.eval.prompts import demonstration_tokens
from gato.eval.rollout import run_batch
from gato.testing.eval import tiny_model
from gato.tokenizers import image
from gato.tokenizers import sequence as seqlib
from gato.tokenizers.spec import TimestepSpec
from gato.tokenizers.timestep import observation_steps, tokenize_episode, tokenize_observation
from gato.train.validate import check_rules

SPEC = TimestepSpec(observation={"pixels": "image"}, action_kind="discrete", action_shape=(),
                    num_actions=4)


def _frames(steps: int, size: int = 16, offset: int = 0) -> np.ndarray:
    """uint8 [steps, size, size, 1]; every pixel of frame t is offset + 10 t."""
    values = offset + 10 * np.arange(steps, dtype=np.uint8)
    return np.broadcast_to(values[:, None, None, None], (steps, size, size, 1)).copy()


def _episode(steps: int, offset: int = 0) -> dict:
    return {"observation": {"pixels": _frames(steps, offset=offset)},
            "action": np.arange(steps, dtype=np.int32) % 4}


@pytest.mark.parametrize("stack, at, channels", [
    (1, 0, (0, 0, 0)), (1, 3, (30, 30, 30)),
    (2, 0, (0, 0, 0)), (2, 1, (10, 0, 0)), (2, 3, (30, 20, 20)),
    (3, 1, (10, 0, 0)), (3, 3, (30, 20, 10)),
])
def test_stack_frames_puts_predecessors_in_channels(stack, at, channels):
    stacked = image.stack_frames(_frames(5), stack)
    assert stacked.shape == (5, 16, 16, 3) and stacked.dtype == np.uint8
    assert tuple(stacked[at, 7, 7]) == channels
    np.testing.assert_array_equal(image.stack_frames(_frames(5), stack, 2, 4), stacked[2:4])


def test_motion_shows_the_frame_twice_and_its_change():
    stacked = image.stack_frames(_frames(5), 2, motion=True)
    assert tuple(stacked[0, 3, 3]) == (0, 0, 128)  # nothing before the first frame
    assert tuple(stacked[3, 3, 3]) == (30, 30, 133)  # 128 + (30 - 20) // 2
    falling = image.stack_frames(_frames(5)[::-1], 2, motion=True)
    assert tuple(falling[1, 3, 3]) == (30, 30, 123)
    extremes = np.concatenate([np.full((1, 16, 16, 1), 255, np.uint8),
                               np.zeros((1, 16, 16, 1), np.uint8)])
    assert tuple(image.stack_frames(extremes, 2, motion=True)[1, 0, 0]) == (0, 0, 0)
    assert tuple(image.stack_frames(extremes[::-1], 2, motion=True)[1, 0, 0]) == (255, 255, 255)


def test_one_frame_is_gatos_grayscale_patches():
    frames = _frames(3)
    patches, _ = image.patchify_frames(frames)
    stacked, _ = image.patchify_frames(image.stack_frames(frames, 1))
    np.testing.assert_array_equal(stacked, patches)


def test_bad_stacks_are_refused():
    with pytest.raises(ValueError, match="single-channel"):
        image.stack_frames(np.zeros((2, 16, 16, 3), np.uint8), 2)
    with pytest.raises(ValueError, match="frame_stack must be in"):
        SPEC.with_frame_stack(4)
    with pytest.raises(ValueError, match="frame_stack must be in"):
        SPEC.with_frame_stack(0)
    with pytest.raises(ValueError, match="stacked into 3 channels"):  # an unstacked frame
        tokenize_observation(SPEC.with_frame_stack(2), {"pixels": _frames(1)[0]})
    with pytest.raises(ValueError, match="stacked into 3 channels"):
        tokenize_episode(SPEC.with_frame_stack(2), {"pixels": _frames(3)}, np.zeros(3, np.int32))
    with pytest.raises(ValueError, match="data.frame_stack"):
        check_rules({"data": {"frame_stack": 4}})
    with pytest.raises(ValueError, match="frame_motion needs frame_stack=2"):
        SPEC.with_frame_stack(3, motion=True)
    with pytest.raises(ValueError, match="motion needs frame_stack=2"):
        image.stack_frames(_frames(3), 3, motion=True)


def test_task_spec_takes_frame_stack_and_returns_from_the_data_section():
    task = Task(name="pong", suite="atari", spec=SPEC, make_env=None, max_episode_steps=10)
    def data(**values):
        return complete({"data": values}).data

    assert specs.task_spec(task, None).frame_stack == 1
    assert specs.task_spec(task, data(returns={"enabled": False})).frame_stack == 1
    spec = specs.task_spec(task, data(frame_stack=2, returns={"enabled": True}))
    assert spec.frame_stack == 2 and not spec.frame_motion and spec.returns is not None
    assert specs.task_spec(task, data(frame_stack=2, frame_motion=True)).frame_motion


@pytest.mark.parametrize("stack, motion", [(2, False), (3, False), (2, True)])
def test_a_window_shows_the_frames_before_its_start(stack, motion):
    spec = SPEC.with_frame_stack(stack, motion)
    episode = _episode(9)
    whole = tokenize_episode(spec, observation_steps(spec, episode["observation"]),
                             episode["action"])
    per_step = seqlib.length(whole) // 9
    window = windows.episode_window(tokenize_episode, spec, episode, 4, 3 * per_step, 9)
    assert seqlib.length(window) == 3 * per_step
    for name in seqlib.FIELDS:
        np.testing.assert_array_equal(window[name], whole[name][4 * per_step:7 * per_step])
    # and the window's first frame does show its predecessor (not itself repeated)
    assert window["patches"][0, 0, 0, 0] == 40
    assert window["patches"][0, 0, 0, 2] == {(2, False): 30, (3, False): 20, (2, True): 133}[
        stack, motion]


def test_prompt_from_an_episode_end_shows_its_own_predecessors():
    spec = SPEC.with_frame_stack(2)
    episode = _episode(6)
    whole = tokenize_episode(spec, observation_steps(spec, episode["observation"]),
                             episode["action"])
    prompt = demonstration_tokens(spec, episode, "end", 6)  # the last 2 steps (3 tokens each)
    np.testing.assert_array_equal(prompt["patches"], whole["patches"][-6:])


class _FrameEnv(dm_env.Environment):
    """Frames [16, 16, 1] with every pixel offset + 10 t, 5 steps, 4 discrete actions."""

    def __init__(self, seed: int):
        self.offset, self._t = 1 + int(seed), 0

    def _obs(self):
        return {"pixels": _frames(self._t + 1, offset=self.offset)[-1]}

    def reset(self):
        self._t = 0
        return dm_env.restart(self._obs())

    def step(self, action):
        self._t += 1
        return (dm_env.termination if self._t == 4 else dm_env.transition)(0.0, self._obs())

    def observation_spec(self):
        return {"pixels": dm_specs.Array((16, 16, 1), np.uint8, "pixels")}

    def action_spec(self):
        return dm_specs.DiscreteArray(4, np.int32, "action")


@pytest.mark.parametrize("motion", [False, True])
def test_agent_shows_each_row_the_frames_training_showed(monkeypatch, motion):
    spec = SPEC.with_frame_stack(2, motion)
    task = Task(name="test-frames", suite="test", spec=SPEC, make_env=_FrameEnv,
                max_episode_steps=5)
    seen = []

    def recording(spec_, observation):
        seen.append(dict(observation))
        return tokenize_observation(spec_, observation)

    monkeypatch.setattr(agent_lib, "tokenize_observation", recording)
    model, params = tiny_model(seed=0, max_len=64)
    agent = agent_lib.ModelAgent(model, params, spec, decoding="greedy")
    for _ in range(2):  # a second reset starts every row's history afresh
        seen.clear()
        episodes, _ = run_batch(dataclasses.replace(task, spec=spec), agent, [0, 1], max_steps=5)
        assert [e["length"] for e in episodes] == [4, 4] and not any(e["error"] for e in episodes)
        for row, seed in enumerate((0, 1)):
            want = observation_steps(spec, {"pixels": _frames(4, offset=1 + seed)})["pixels"]
            got = np.stack([obs["pixels"] for obs in seen[row::2]])
            np.testing.assert_array_equal(got, want)
