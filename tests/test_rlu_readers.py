"""RL Unplugged readers on small datasets written in TFDS's own layout, and TFRecord framing."""

import numpy as np
import pytest

from gato.data import formats
from gato.data.formats import rlds, rlu, tfrecord
from gato.testing import data as fakes

STEP_KEYS = ("action", "reward", "discount", "is_first", "is_last", "is_terminal")


def test_crc32c_and_framing(tmp_path):
    assert tfrecord.crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value
    records = [b"", b"a", bytes(range(256)) * 3]
    path = tmp_path / "x.tfrecord"
    tfrecord.write_records(path, records)
    index = tfrecord.index_records(path)
    assert [tfrecord.read_record(path, o, n, verify=True) for o, n in index] == records
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt record data"):
        tfrecord.read_record(path, *index[-1], verify=True)
    path.write_bytes(bytes(data[:-3]))
    with pytest.raises(ValueError, match="truncated"):
        tfrecord.index_records(path)


@pytest.mark.parametrize("name,task", [
    ("rlu_control_suite/cartpole_swingup", "cartpole-swingup"),
    ("rlu_control_suite/finger_turn_hard", "finger-turn_hard"),
    ("rlu_control_suite/manipulator_insert_ball", "manipulator-insert_ball"),
    ("rlu_atari/Pong_run_1", "pong"),
    ("rlu_atari/BeamRider_run_5", "beam_rider"),
])
def test_task_names(name, task):
    assert rlu.task_name(name) == task


def test_bad_names_are_rejected():
    for name in ("rlu_atari/Pong", "rlu_control_suite/unknown_task", "mnist/x"):
        with pytest.raises(ValueError, match="rlu|Pong|unknown"):
            rlu.task_name(name)


@pytest.mark.parametrize("name", ["rlu_control_suite/walker_walk", "rlu_atari/Pong_run_1"])
def test_rlu_episodes_read_back(tmp_path, name):
    rng = np.random.default_rng(0)
    written = [fakes.random_rlu_episode(rng, name, length, i)
               for i, length in enumerate((4, 7, 1))]
    out = fakes.write_rlu_dataset(tmp_path, name, written)
    assert (out / "features.json").exists() and (out / "dataset_info.json").exists()
    assert rlds.file_format(out) == "tfrecord"
    source = formats.load_episodes(name, tmp_path)
    assert len(source) == 3 and source.task == rlu.task_name(name)
    for i, episode in enumerate(written):
        loaded = source[i]
        steps = episode["steps"]
        obs = steps["observation"]
        obs = obs if isinstance(obs, dict) else {"pixels": obs}
        assert sorted(loaded["observation"]) == sorted(obs)
        for key, value in obs.items():
            np.testing.assert_array_equal(loaded["observation"][key], value, err_msg=key)
        for key in STEP_KEYS:
            np.testing.assert_array_equal(loaded[key], steps[key], err_msg=key)
        assert source.metadata(i)["episode_id"] == i
    assert rlu.prepared(tmp_path) == {rlu.task_name(name): [name]}


def test_missing_rlu_dataset_lists_what_exists(tmp_path):
    fakes.write_rlu_dataset(tmp_path, "rlu_atari/Pong_run_1",
                            [fakes.random_rlu_episode(np.random.default_rng(1),
                                                      "rlu_atari/Pong_run_1", 2, 0)])
    with pytest.raises(FileNotFoundError, match="rlu_atari/Pong_run_1/1.3.0"):
        formats.load_episodes("rlu_atari/Breakout_run_1", tmp_path)


def test_control_task_falls_back_to_rlu(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    name = "rlu_control_suite/cartpole_swingup"
    written = [fakes.random_rlu_episode(np.random.default_rng(2), name, 3, 0)]
    fakes.write_rlu_dataset(tmp_path, name, written)
    monkeypatch.setattr(tfds.core.constants, "DATA_DIR", str(tmp_path))
    source = formats.load_episodes("cartpole-swingup", None)  # None: TFDS's default data dir
    assert isinstance(source, rlu.RluEpisodeSource) and source.name == name
    np.testing.assert_array_equal(source[0]["observation"]["velocity"],
                                  written[0]["steps"]["observation"]["velocity"])
