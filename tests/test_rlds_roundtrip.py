"""Generated episodes -> staged shards -> TFDS (array_record) -> load_episodes: same arrays."""

import pickle

import numpy as np
import pytest

from gato import cli
from gato.data import formats
from gato.data.formats import episodes, rlds
from gato.data.recording import builder, staging
from gato.data.recording import jobs as generation
from gato.envs import registry
from gato.policies import has_expert
from gato.testing import data as fakes


def _staged(config: generation.RunConfig) -> list[tuple[dict, dict]]:
    return [pair for shard in config.shards() for pair in zip(*staging.read_shard(shard),
                                                              strict=True)]


def _assert_same(loaded: dict, staged: dict) -> None:
    assert sorted(loaded["observation"]) == sorted(staged["observation"])
    for key, value in staged["observation"].items():
        np.testing.assert_array_equal(loaded["observation"][key], value, err_msg=key)
        assert loaded["observation"][key].dtype == value.dtype, key
    for key in episodes.STEP_KEYS:
        np.testing.assert_array_equal(loaded[key], staged[key], err_msg=key)
        assert loaded[key].dtype == staged[key].dtype, key


class _FakeBuilder(builder.GatoEpisodeBuilder, skip_registration=True):
    name = "gato_fake"
    suite = "fake"
    BUILDER_CONFIGS = [builder.TaskConfig(name="fake-nested")]


def test_nested_observations_round_trip(tmp_path, monkeypatch):
    registry.all_tasks()
    monkeypatch.setitem(registry._TASKS, "fake-nested", fakes.fake_task())
    b = _FakeBuilder(config="fake-nested", data_dir=str(tmp_path), episodes=5, policy="random",
                     seed=3, shard_size=2, workers=1)
    b.download_and_prepare()  # the builder generates its missing shards itself
    assert b.report["fake-nested"]["generated"] == 5
    source = formats.load_episodes("fake-nested", tmp_path)
    staged = _staged(b.run_configs()[0])
    assert len(source) == len(staged) == 5
    for i, (episode, meta) in enumerate(staged):
        loaded = source[i]
        _assert_same(loaded, episode)
        assert sorted(loaded["observation"]) == ["pixels", "proprio/pos", "proprio/vel"]
        assert loaded["is_first"][0] and not loaded["is_first"][1:].any()
        assert loaded["is_last"][-1] and not loaded["is_last"][:-1].any()
        assert loaded["is_terminal"][-1] and loaded["discount"][-1] == 0.0
        _assert_same(rlds.steps_to_episode(source.examples()[i]["steps"]), episode)  # slow path
        assert meta == {"episode_id": i, "seed": meta["seed"], "task": "fake-nested",
                        "policy": "random"}
        assert source.metadata(i) == {**meta, "return": episodes.episode_return(episode)}
    again = pickle.loads(pickle.dumps(source))  # grain workers pickle their data source
    _assert_same(again[4], staged[4][0])


@pytest.mark.parametrize("task,suite,policy,key,dtype", [
    ("cartpole-swingup", "control", "random", "position", np.float32),
    ("pong", "atari", "expert", "pixels", np.uint8),
])
def test_gato_generate_cli(tmp_path, capsys, task, suite, policy, key, dtype):
    if policy == "expert" and not has_expert(task):
        policy = "random"
    argv = ["generate", "--tasks", task, "--episodes", "3", "--shard-size", "2",
            "--max-episode-steps", "20", "--policy", policy, "--data-dir", str(tmp_path)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert task in out and "mean return" in out
    config = generation.make_run_config(task, tmp_path / "staging" / f"gato_{suite}", 3, policy,
                                        0, 20, 2)
    staged = _staged(config)
    source = formats.load_episodes(task, tmp_path)
    assert len(source) == 3
    for i, (episode, meta) in enumerate(staged):
        _assert_same(source[i], episode)
        assert meta["policy"] == policy and meta["episode_id"] == i
        assert episodes.episode_length(episode) <= 21  # 20 actions + the final observation
    assert source[0]["observation"][key].dtype == dtype
    spec = registry.get(task).spec
    assert source[0]["action"].shape[1:] == spec.action_shape


def test_missing_dataset_error_lists_what_exists(tmp_path):
    (tmp_path / "gato_control" / "walker-walk" / "1.0.0").mkdir(parents=True)
    (tmp_path / "gato_control" / "walker-walk" / "1.0.0" / "dataset_info.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="cartpole-swingup.*gato_control/walker-walk"):
        formats.load_episodes("cartpole-swingup", tmp_path)
    with pytest.raises(FileNotFoundError, match="holds: nothing"):
        formats.load_episodes("cartpole-swingup", tmp_path / "empty")
