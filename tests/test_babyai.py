"""BabyAI: the timestep's tokens, dm_env conformance, the bot as expert, replay and recording."""

import dataclasses

import numpy as np
import pytest
from absl.testing import absltest
from dm_env import test_utils

from gato import policies
from gato.data import formats
from gato.data.recording.generate import generate_datasets
from gato.data.recording.record import record_episode
from gato.envs import babyai, registry
from gato.policies.babyai_expert import BabyAIExpert
from gato.policies.noise import ExecutionNoise
from gato.tokenizers import sequence
from gato.tokenizers.sequence import Modality
from gato.tokenizers.timestep import tokenize_episode, tokenize_timestep
from gato.tokenizers.vocab import SEPARATOR_ID

RED_BALL = "babyai-go-to-red-ball"
MISSION_IDS = [1900, 298, 271, 2824, 283, 422]  # "go to the red ball", SentencePiece 32k


def _observation(direction: int) -> dict:
    image = np.zeros((7, 7, 3), np.uint8)
    image[0, 0] = (2, 5, 0)  # a grey wall, top-left in row-major order
    image[6, 6] = (6, 0, 0)  # a red ball, last cell
    return {"mission": "go to the red ball", "image": image,
            "direction": np.asarray([direction], np.uint8)}


def test_timestep_tokens_in_key_order_with_exact_ids():
    spec = registry.get(RED_BALL).spec
    assert spec.observation_keys == ["direction", "image", "mission"]
    seq = tokenize_timestep(spec, _observation(3), np.int32(2))
    image_ids = [0] * 147
    image_ids[:3], image_ids[-3:] = [2, 5, 0], [6, 0, 0]
    assert seq["tokens"].tolist() == [3, *image_ids, *MISSION_IDS, SEPARATOR_ID, 2]
    modality = ([Modality.DISCRETE] * 148 + [Modality.TEXT] * 6
                + [Modality.SEPARATOR, Modality.DISCRETE])
    assert seq["modality"].tolist() == [int(m) for m in modality]
    assert seq["local_pos"][:154].tolist() == list(range(154))
    assert seq["loss_mask"].tolist() == [False] * 155 + [True]
    assert seq["is_action"][-1] and not seq["is_action"][:-1].any()


def test_grid_cells_one_token_per_cell_with_exact_ids():
    """data.grid_cells: the view as 49 cell ids (object + 11 colour + 66 state), the token count
    the manifests use agrees, and the radix is minigrid's."""
    from minigrid.core import constants

    from gato.config import section
    from gato.envs.specs import task_spec
    from gato.tokenizers.timestep import tokens_per_timestep

    minigrid_radix = (max(constants.OBJECT_TO_IDX.values()) + 1, len(constants.COLOR_TO_IDX),
                      len(constants.STATE_TO_IDX))
    assert minigrid_radix == babyai.CELL_RADIX
    data = section("data")
    data.grid_cells = True
    spec = task_spec(registry.get(RED_BALL), data)
    seq = tokenize_timestep(spec, _observation(3), np.int32(2))
    cell_ids = [0] * 49
    cell_ids[0], cell_ids[-1] = 2 + 11 * 5, 6
    assert seq["tokens"].tolist() == [3, *cell_ids, *MISSION_IDS, SEPARATOR_ID, 2]
    assert seq["local_pos"][:56].tolist() == list(range(56))
    shapes = {"direction": (1,), "image": (7, 7, 3)}
    no_text = dataclasses.replace(spec, observation={"direction": "discrete",
                                                     "image": "discrete"})
    assert tokens_per_timestep(no_text, shapes) == 1 + 49 + 2
    assert tokens_per_timestep(no_text.with_cells(False), shapes) == 1 + 147 + 2


def test_episode_tokens_equal_timesteps_with_text_as_stored_bytes():
    """tokenize_episode over missions read back from RLDS (bytes) equals the timesteps."""
    spec = registry.get(RED_BALL).spec
    steps = [_observation(d) for d in (0, 1)]
    stacked = {k: np.stack([np.asarray(s[k]) for s in steps]) for k in steps[0]}
    stacked["mission"] = stacked["mission"].astype("S")
    actions = np.asarray([1, 2], np.int64)
    episode = tokenize_episode(spec, stacked, actions)
    expected = sequence.concat([tokenize_timestep(spec, s, a)
                                for s, a in zip(steps, actions, strict=True)])
    for field in ("tokens", "modality", "loss_mask", "local_pos", "is_action"):
        np.testing.assert_array_equal(episode[field], expected[field], err_msg=field)


class BabyAIConformanceTest(test_utils.EnvironmentTestMixin, absltest.TestCase):
    """dm_env's own contract checks; the action sequence ends an episode and starts another."""

    def make_object_under_test(self):
        return registry.get(RED_BALL).make_env(0)

    def make_action_sequence(self):
        env = registry.get(RED_BALL).make_env(0)
        expert = BabyAIExpert(env)
        timestep, actions = env.reset(), []
        while not timestep.last():
            actions.append(expert.step(timestep))
            timestep = env.step(actions[-1])
        yield from actions + [np.int32(2)] * 5


def test_every_default_level_matches_its_spec_and_cap():
    names = {t.name for t in registry.suite("babyai")}  # other levels may be resolved by now
    assert names >= {babyai.task_name(g) for g in babyai.LEVELS}
    for gym_id in babyai.LEVELS:
        assert babyai.episode_cap(gym_id) == babyai.CAPS[gym_id], gym_id
    env = registry.get("babyai-synth").make_env(4)
    env.reset()
    assert env.max_steps <= registry.get("babyai-synth").max_episode_steps
    assert env.physics.render(48, 64).shape == (48, 64, 3)


def test_bot_solves_levels_and_success_is_reported():
    for name, seed in ((RED_BALL, 0), ("babyai-put-next-local", 1),
                       (babyai.level("BabyAI-GoToSeqS5R2-v0").name, 2)):
        task = registry.get(name)
        env = task.make_env(seed)
        expert = policies.make_expert(name, env)
        expert.reset(seed)
        ret = policies.episode_return(env, expert, task.max_episode_steps)
        assert env.success and ret > 0.5, (name, ret)
        assert expert.failures == 0
    env = registry.get(RED_BALL).make_env(0)
    timestep = env.reset()
    while not timestep.last():
        timestep = env.step(np.int32(6))  # "done" does nothing: the level times out
    assert timestep.discount == 1.0 and not env.success


def test_expert_gives_up_where_the_bot_would_loop_forever():
    """BabyAIBot's replanning never returns on this layout; the bounded expert says "done"."""
    env = babyai.make_env("BabyAI-UnlockToUnlock-v0", 4)
    expert = BabyAIExpert(env)
    expert.reset(4)
    ret = policies.episode_return(env, expert, 1080)
    assert ret == 0.0 and not env.success and expert.failures == 2


def test_recorded_return_reproduced_by_replaying_actions():
    """Executed actions (DART noise stored) replayed in a fresh env of the same seed give the
    same observations and return."""
    task = registry.get("babyai-pickup-loc")
    seed = 5
    env = task.make_env(seed)
    noise = ExecutionNoise(task.spec, 0.3)
    episode = record_episode(env, policies.make_expert(task.name, env), seed,
                             task.max_episode_steps, noise, store_executed=True)
    replay = task.make_env(seed)
    timestep, total = replay.reset(), 0.0
    for t, action in enumerate(episode["action"][:-1]):
        np.testing.assert_array_equal(timestep.observation["image"],
                                      episode["observation"]["image"][t])
        timestep = replay.step(action)
        total += timestep.reward
    assert timestep.last() == bool(episode["is_last"][-1])
    assert total == pytest.approx(float(episode["reward"].sum()), abs=1e-6)


def test_recording_path_writes_and_reads_back_text(tmp_path):
    task = registry.get(RED_BALL)
    report = generate_datasets([task], tmp_path, episodes=2, shard_size=2, action_noise=0.1)
    assert report[RED_BALL]["episodes"] == 2 and report[RED_BALL]["mean_return"] > 0.5
    source = formats.load_episodes(RED_BALL, tmp_path)
    episode, meta = source[0], source.metadata(0)
    env = task.make_env(meta["seed"])
    mission = env.reset().observation["mission"]
    missions = {m.decode() if isinstance(m, bytes) else str(m)
                for m in episode["observation"]["mission"]}
    assert missions == {mission} and mission.startswith("go to the red ball")
    assert episode["observation"]["image"].shape[1:] == (7, 7, 3)
    assert episode["observation"]["direction"].shape[1:] == (1,)
    assert meta["policy"] == "expert+execution_noise=0.1"
    seq = tokenize_episode(task.spec, episode["observation"], episode["action"])
    assert (seq["modality"] == Modality.TEXT).sum() >= len(episode["action"]) * 5


def test_bad_input_is_a_one_line_error():
    errors = []
    for name, kind in (("babyai-go-to-the-moon", KeyError), ("BabyAI-KeyInBox-v0", ValueError),
                       ("babyai-put-next-s5-n2-carrying", ValueError),
                       ("babyai-open-doors-order-n2-debug", ValueError)):
        with pytest.raises(kind) as error:
            babyai.level(name)
        errors.append(str(error.value))
    assert "babyai-go-to-local" in errors[0] and "cannot solve" in errors[1]
    assert "BabyAI-PutNextS5N2Carrying-v0" in errors[2] and "7 of 20" in errors[3]
    env = registry.get(RED_BALL).make_env(0)
    env.reset()
    with pytest.raises(ValueError) as error:
        env.step(7)
    errors.append(str(error.value))
    with pytest.raises(TypeError) as error:
        BabyAIExpert(object())
    errors.append(str(error.value))
    assert all("\n" not in e for e in errors), errors
