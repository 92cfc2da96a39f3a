"""The JAT dataset reader on parquet files written here in JAT's schema (one row per episode)."""

import json
import pickle
import socket
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from gato.data import formats
from gato.data.formats import jat
from gato.data.formats.optional import MissingExtraError
from gato.data.pipeline import loader
from gato.data.pipeline.bad_episodes import EpisodeReader
from gato.data.pipeline.windows import BadEpisodeError
from gato.envs import datasets, registry
from gato.testing.sources import (
    jat_atari_episode,
    jat_babyai_episode,
    jat_continuous_episode,
    png,
    write_jat,
)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("jat")
    rng = np.random.default_rng(0)
    atari = [jat_atari_episode(rng, n) for n in (3, 5, 4)]
    write_jat(root / "jat-dataset", "atari-pong", "train", [e for e, _ in atari], shards=2)
    write_jat(root / "jat-dataset", "atari-pong", "test", [jat_atari_episode(rng, 2)[0]])
    write_jat(root / "jat-dataset", "babyai-go-to", "train",
              [jat_babyai_episode(rng, n) for n in (4, 6)])
    write_jat(root / "jat-dataset", "metaworld-assembly", "train",
              [jat_continuous_episode(rng, n, 39, 4) for n in (5, 7, 6)], row_group_size=1)
    write_jat(root / "jat-dataset", "mujoco-hopper", "train",
              [jat_continuous_episode(rng, 4, 11, 3)])
    return root, [f for _, f in atari]


def _rows(root, config, split="train"):
    files = sorted((root / "jat-dataset" / config).glob(f"{split}-*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def _flags(episode, steps):
    np.testing.assert_array_equal(episode["is_first"], np.arange(steps) == 0)
    assert not episode["is_last"].any() and not episode["is_terminal"].any()
    np.testing.assert_array_equal(episode["discount"], np.ones(steps, np.float32))


def test_atari_frames_actions_rewards_read_back_exactly(root):
    root, frames = root
    source = formats.load_episodes("jat/atari-pong", root, "train")
    rows = _rows(root, "atari-pong")
    assert len(source) == 3 and len(formats.load_episodes("jat/atari-pong", root, "test")) == 1
    for i, row in enumerate(rows):
        episode, steps = source[i], len(row["rewards"])
        assert episode["observation"]["pixels"].shape == (steps, 80, 80, 1)
        np.testing.assert_array_equal(episode["observation"]["pixels"],
                                      frames[i][:, 2:82, 2:82, 3:4])  # newest frame, centre
        np.testing.assert_array_equal(episode["action"], np.asarray(row["discrete_actions"]))
        assert episode["action"].dtype == np.int64
        np.testing.assert_array_equal(episode["reward"], np.float32(row["rewards"]))
        _flags(episode, steps)
    assert "row 0" in source.locate(2) and "00001-of-00002" in source.locate(2)
    again = pickle.loads(pickle.dumps(source))  # as grain workers receive it
    np.testing.assert_array_equal(again[1]["observation"]["pixels"],
                                  source[1]["observation"]["pixels"])


def test_babyai_mission_direction_and_grid_read_back_exactly(root):
    root, _ = root
    source = formats.load_episodes("jat/babyai-go-to", root, "train")
    for i, row in enumerate(_rows(root, "babyai-go-to")):
        episode, symbolic = source[i], np.asarray(row["discrete_observations"])
        obs, steps = episode["observation"], len(row["rewards"])
        assert list(obs["mission"]) == row["text_observations"]
        np.testing.assert_array_equal(obs["direction"], symbolic[:, :1])
        np.testing.assert_array_equal(obs["image"], symbolic[:, 1:].reshape(steps, 7, 7, 3))
        np.testing.assert_array_equal(episode["action"], row["discrete_actions"])
        np.testing.assert_array_equal(episode["reward"], np.float32(row["rewards"]))
        _flags(episode, steps)


@pytest.mark.parametrize("config", ["metaworld-assembly", "mujoco-hopper"])
def test_continuous_states_and_actions_read_back_exactly(root, config):
    root, _ = root
    source = formats.load_episodes(f"jat/{config}", root, "train[1:]" if "meta" in config else
                                   "train")
    rows = _rows(root, config)[1:] if "meta" in config else _rows(root, config)
    assert len(source) == len(rows)
    for i, row in enumerate(rows):
        episode = source[i]
        np.testing.assert_array_equal(episode["observation"]["state"],
                                      np.float32(row["continuous_observations"]))
        np.testing.assert_array_equal(episode["action"], np.float32(row["continuous_actions"]))
        np.testing.assert_array_equal(episode["reward"], np.float32(row["rewards"]))
        _flags(episode, len(row["rewards"]))


def test_training_pipeline_yields_batches_of_every_domain(root):
    root, _ = root
    names = "jat/atari-pong,jat/babyai-go-to,jat/metaworld-assembly"
    config = loader.default_data_config()
    config.update(suites="", tasks=names, data_dir=str(root), worker_count=0)
    iterator = loader.make_iterator(config, batch_size=6, seq_len=256, seed=0)
    batches = [next(iterator) for _ in range(4)]
    assert iterator.task_names == names.split(",")
    seen = set()
    for batch in batches:
        assert batch["tokens"].shape == (6, 256)
        for row, task_id in enumerate(batch["task_id"]):
            seen.add(int(task_id))
            actions = batch["tokens"][row][batch["is_action"][row]]
            lo, hi = {0: (0, 18), 1: (0, 7), 2: (32000, 33024)}[int(task_id)]
            assert actions.size and actions.min() >= lo and actions.max() < hi
    assert seen == {0, 1, 2}


def test_reference_scores_are_shipped_with_their_source():
    table = json.loads(datasets.SCORES_PATH.read_text())
    assert "huggingface/jat" in table["source"] and "scores_dict.json" in table["source"]
    assert len(registry.suite("jat-atari")) == 57 and len(registry.suite("jat-mujoco")) == 11
    assert len(registry.suite("jat-babyai")) == 39 and len(registry.suite("jat-metaworld")) == 50
    ref = datasets.jat_reference("jat/atari-pong")
    assert ref["random_mean"] == -20.7 and ref["expert_mean"] == pytest.approx(20.9868, abs=1e-4)
    assert datasets.jat_normalized("jat/atari-pong", ref["expert_mean"]) == pytest.approx(1.0)
    assert datasets.jat_normalized("jat/atari-pong", -20.7) == 0.0


def test_describe_lists_each_task_and_split(root, capsys):
    from gato import cli

    root, _ = root
    assert cli.main(["data", "describe", str(root)]) == 0
    out = capsys.readouterr().out
    for name in ("jat/atari-pong [train]", "jat/atari-pong [test]", "jat/babyai-go-to [train]",
                 "jat/metaworld-assembly [train]", "jat/mujoco-hopper [train]"):
        assert name in out
    assert "3 episodes, 12 timesteps" in out  # atari-pong train: 3 + 5 + 4 steps
    babyai = next(line for line in out.splitlines() if line.startswith("jat/babyai-go-to [train]"))
    assert "? tokens" not in babyai  # timesteps counted with their missions


def test_missing_extra_names_it(root, monkeypatch):
    root, _ = root
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'gato-jax\[jat\]'"):
        formats.load_episodes("jat/atari-pong", root, "train")


def test_unknown_task_split_and_missing_files(root, tmp_path):
    root, _ = root
    with pytest.raises(KeyError, match="unknown JAT task"):
        formats.load_episodes("jat/atari-nogame", root)
    with pytest.raises(ValueError, match="JAT split 'validation'"):
        formats.load_episodes("jat/atari-pong", root, "validation")
    with pytest.raises(FileNotFoundError, match=r"atari-breakout/train-\*\.parquet"):
        formats.load_episodes("jat/atari-breakout", root)
    with pytest.raises(FileNotFoundError, match="test-"):
        formats.load_episodes("jat/babyai-go-to", root, "test")


def test_corrupt_file_is_named(tmp_path):
    (tmp_path / "atari-pong").mkdir()
    (tmp_path / "atari-pong" / "train-00000-of-00001.parquet").write_bytes(b"not parquet")
    with pytest.raises(ValueError, match="train-00000-of-00001.parquet is not a readable parquet"):
        formats.load_episodes("jat/atari-pong", tmp_path)


def test_missing_column_is_named(tmp_path):
    episode = jat_continuous_episode(np.random.default_rng(1), 3, 39, 4)
    del episode["continuous_actions"]
    write_jat(tmp_path, "metaworld-reach", "train", [episode])
    with pytest.raises(ValueError, match=r"lacks columns \['continuous_actions'\]"):
        formats.load_episodes("jat/metaworld-reach", tmp_path)


def test_mismatched_and_misshaped_episodes_are_named_then_skipped_or_fatal(tmp_path):
    rng = np.random.default_rng(2)
    good, short, wide = (jat_continuous_episode(rng, 4, 11, 3) for _ in range(3))
    short["rewards"] = short["rewards"][:3]
    wide["continuous_observations"][2] = wide["continuous_observations"][2] + [0.5]
    write_jat(tmp_path, "mujoco-hopper", "train", [short, good, wide], row_group_size=3)
    source = formats.load_episodes("jat/mujoco-hopper", tmp_path)
    with pytest.raises(ValueError, match="'continuous_observations' has 4 timesteps, rewards"):
        source[0]
    with pytest.raises(ValueError, match="timestep 2 has 12 values, expected 11"):
        source[2]
    spec = registry.get("jat/mujoco-hopper").spec
    reader = EpisodeReader("jat/mujoco-hopper", spec, source, where="test", policy="skip")
    assert reader.read(0)[0] == 1 and reader.read(2)[0] == 1  # both bad ones skipped
    assert "row 0" in reader.skipped[0] and "mujoco-hopper/train-00000" in reader.skipped[0]
    failing = EpisodeReader("jat/mujoco-hopper", spec, source, where="test", policy="fail")
    with pytest.raises(BadEpisodeError, match="row 2"):
        failing.read(2)


def test_bad_frame_shape_and_action_are_named(tmp_path):
    episode, _ = jat_atari_episode(np.random.default_rng(3), 2)
    episode["image_observations"][1] = {"bytes": png(np.zeros((84, 84), np.uint8)), "path": None}
    other, _ = jat_atari_episode(np.random.default_rng(4), 2)
    other["discrete_actions"][1] = 18
    write_jat(tmp_path, "atari-breakout", "train", [episode, other])
    source = formats.load_episodes("jat/atari-breakout", tmp_path)
    with pytest.raises(ValueError, match=r"timestep 1 has shape \(84, 84\)"):
        source[0]
    with pytest.raises(ValueError, match=r"'discrete_actions' holds values outside \[0, 18\)"):
        source[1]


def test_reading_never_touches_the_network(root, monkeypatch):
    root, _ = root

    def refuse(*args, **kwargs):
        raise AssertionError("network access")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    source = jat.load_jat_episodes("jat/babyai-go-to", root, "train")
    assert [len(source[i]["reward"]) for i in range(len(source))] == [4, 6]
