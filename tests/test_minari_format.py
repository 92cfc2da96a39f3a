"""The Minari reader on datasets made here with Minari's own DataCollector (no download)."""

import pickle
import shutil
import socket
import sys

import gymnasium as gym
import h5py
import minari
import numpy as np
import pytest
from gymnasium import spaces

from gato.data import formats
from gato.data.formats import gym_spaces
from gato.data.formats import minari as minari_format
from gato.data.formats.optional import MissingExtraError
from gato.data.pipeline import loader
from gato.data.pipeline.bad_episodes import EpisodeReader
from gato.data.pipeline.windows import BadEpisodeError
from gato.testing.sources import Room, collect_minari

PENDULUM, ROOM = "gatotest/pendulum/random-v0", "gatotest/room/mixed-v0"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("minari")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINARI_DATASETS_PATH", str(root))
        pendulum = collect_minari(gym.make("Pendulum-v1", max_episode_steps=5), PENDULUM, 3, 10)
        room = collect_minari(Room(), ROOM, 4, 20)
        yield root, {PENDULUM: pendulum, ROOM: room}


def _check_flags(episode, record):
    steps = len(record["actions"])
    last = np.arange(steps + 1) == steps
    np.testing.assert_array_equal(episode["is_first"], np.arange(steps + 1) == 0)
    np.testing.assert_array_equal(episode["is_last"], last)
    np.testing.assert_array_equal(episode["is_terminal"], last & record["terminated"])
    discount = np.ones(steps + 1, np.float32)
    discount[steps - 1:] = 0.0 if record["terminated"] else 1.0
    np.testing.assert_array_equal(episode["discount"], discount)
    np.testing.assert_array_equal(episode["reward"], np.float32(record["rewards"] + [0.0]))


def test_continuous_box_dataset_reads_back_exactly(store):
    _, seen = store
    source = formats.load_episodes("minari/" + PENDULUM, None)
    spec = minari_format.register_task("minari/" + PENDULUM).spec
    assert spec.observation == {"observation": "continuous"} and spec.action_kind == "continuous"
    assert spec.action_shape == (1,) and (spec.action_minimum, spec.action_maximum) == (-2.0, 2.0)
    assert len(source) == 3
    for i, record in enumerate(seen[PENDULUM]):
        episode = source[i]
        np.testing.assert_array_equal(episode["observation"]["observation"],
                                      np.float32(record["obs"]))
        np.testing.assert_array_equal(episode["action"],
                                      np.float32(record["actions"] + [np.zeros(1)]))
        _check_flags(episode, record)
        assert not record["terminated"]  # Pendulum only truncates


def test_discrete_dict_dataset_reads_back_exactly(store):
    _, seen = store
    source = formats.load_episodes("minari/" + ROOM, None)
    spec = source.spec
    assert spec.observation == {"goal": "text", "grid": "discrete", "pos": "discrete",
                                "vel": "continuous"}
    assert (spec.action_kind, spec.action_shape, spec.num_actions) == ("discrete", (), 3)
    assert any(r["terminated"] for r in seen[ROOM]) and not all(r["terminated"]
                                                                 for r in seen[ROOM])
    for i, record in enumerate(seen[ROOM]):
        obs = source[i]["observation"]
        np.testing.assert_array_equal(obs["pos"], [o["pos"] + 2 for o in record["obs"]])  # start
        np.testing.assert_array_equal(obs["grid"], [o["grid"] for o in record["obs"]])
        assert list(obs["goal"]) == [o["goal"] for o in record["obs"]]
        np.testing.assert_array_equal(obs["vel"], [o["vel"] for o in record["obs"]])
        np.testing.assert_array_equal(source[i]["action"], record["actions"] + [0])
        _check_flags(source[i], record)
    assert source.metadata(1) == {"policy": "random", "episode_id": 1}
    again = pickle.loads(pickle.dumps(source))  # as grain workers receive it
    np.testing.assert_array_equal(again[2]["observation"]["vel"], source[2]["observation"]["vel"])


def test_training_pipeline_yields_batches(store):
    names = f"minari/{PENDULUM},minari/{ROOM}"
    config = loader.default_data_config()
    config.update(suites="", tasks=names, worker_count=0)
    iterator = loader.make_iterator(config, batch_size=6, seq_len=64, seed=0)
    batches = [next(iterator) for _ in range(3)]
    assert iterator.task_names == names.split(",")
    ids = np.concatenate([b["task_id"] for b in batches])
    assert set(ids.tolist()) == {0, 1}
    for batch in batches:
        for row, task_id in enumerate(batch["task_id"]):
            actions = batch["tokens"][row][batch["is_action"][row]]
            lo, hi = (32000, 33024) if task_id == 0 else (0, 3)
            assert actions.size and actions.min() >= lo and actions.max() < hi


def test_describe_lists_the_store(store, capsys):
    from gato import cli

    root, seen = store
    assert cli.main(["data", "describe", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"minari/{PENDULUM} [train] (minari): 3 episodes, 15 timesteps (18 steps)" in out
    room_steps = sum(len(r["actions"]) for r in seen[ROOM])
    assert f"minari/{ROOM} [train] (minari): 4 episodes, {room_steps} timesteps" in out


def test_corrupt_episode_is_named_then_skipped_or_fatal(store, tmp_path):
    root, _ = store
    shutil.copytree(root / "gatotest" / "pendulum", tmp_path / "gatotest" / "pendulum")
    with h5py.File(tmp_path / "gatotest/pendulum/random-v0/data/main_data.hdf5", "a") as f:
        short = f["episode_1/observations"][:-1]
        del f["episode_1/observations"]
        f["episode_1/observations"] = short
    source = minari_format.MinariEpisodeSource(PENDULUM, root=tmp_path)
    with pytest.raises(ValueError, match=r"observation 'observation' has shape \(5, 3\)"):
        source[1]
    reader = EpisodeReader("minari/x", source.spec, source, where="test", policy="skip")
    assert reader.read(1)[0] == 2 and "episode_1" in reader.skipped[0]
    with pytest.raises(BadEpisodeError, match="episode_1"):
        EpisodeReader("minari/x", source.spec, source, where="test", policy="fail").read(1)


def test_errors_unknown_dataset_split_space_and_missing_extra(store, monkeypatch):
    with pytest.raises(FileNotFoundError, match="no local Minari dataset 'gatotest/none-v0'"):
        formats.load_episodes("minari/gatotest/none-v0", None)
    with pytest.raises(ValueError, match="one split, 'train'"):
        formats.load_episodes("minari/" + ROOM, None, "test")
    with pytest.raises(ValueError, match="space Tuple is not supported"):
        gym_spaces.timestep_spec(spaces.Tuple([spaces.Discrete(2)]), spaces.Discrete(2))
    with pytest.raises(ValueError, match="action space Text"):
        gym_spaces.timestep_spec(spaces.Discrete(2), spaces.Text(4))
    monkeypatch.setitem(sys.modules, "minari", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'gato-jax\[minari\]'"):
        formats.load_episodes("minari/" + ROOM, None)


def test_loading_never_downloads(store, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(minari.storage.hosting, "download_dataset", refuse)
    source = minari_format.load_minari_episodes("minari/" + ROOM)
    assert [len(source[i]["reward"]) for i in range(len(source))] == [
        len(r["rewards"]) + 1 for r in store[1][ROOM]]
    with pytest.raises(FileNotFoundError):
        minari_format.load_minari_episodes("minari/gatotest/absent-v0")


def test_space_mapping_kinds_offsets_and_bounds():
    obs = spaces.Dict({"cam": spaces.Box(0, 255, (32, 16, 3), np.uint8),
                       "odd": spaces.Box(0, 255, (20, 20, 3), np.uint8),
                       "flags": spaces.MultiBinary(4), "big": spaces.Discrete(5000),
                       "cells": spaces.Box(0, 10, (3,), np.int64),
                       "wide": spaces.Box(-5, 5000, (2,), np.int64),
                       "arm": spaces.Dict({"q": spaces.Box(-np.inf, np.inf, (7,), np.float64)})})
    spec = gym_spaces.timestep_spec(obs, spaces.Box(np.float32([-1, -2]), np.float32([1, 2])))
    assert spec.observation == {"arm/q": "continuous", "big": "continuous", "cells": "discrete",
                                "cam": "image", "flags": "discrete", "odd": "discrete",
                                "wide": "continuous"}
    assert (spec.action_minimum, spec.action_maximum) == ((-1.0, -2.0), (1.0, 2.0))
    unbounded = gym_spaces.timestep_spec(obs, spaces.Box(-np.inf, np.inf, (3,), np.float32))
    assert unbounded.action_minimum is None and unbounded.action_maximum is None
    multi = gym_spaces.timestep_spec(obs, spaces.MultiDiscrete([4, 6], start=[1, -1]))
    assert (multi.action_shape, multi.num_actions) == ((2,), 6)
    _, offset = gym_spaces.action_fields(spaces.MultiDiscrete([4, 6], start=[1, -1]))
    np.testing.assert_array_equal(offset, [1, -1])
