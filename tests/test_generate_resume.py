"""Staged generation: resumes after interruption/corruption, and workers do not change the data."""

import numpy as np
import pytest

from gato.data.recording import jobs, staging
from gato.policies import has_expert


def _arrays(config: jobs.RunConfig) -> dict[str, np.ndarray]:
    """Every array of every staged shard, keyed by shard file name and array name."""
    out = {}
    for shard in config.shards():
        with np.load(shard.path) as data:
            out.update({f"{shard.path.name}:{k}": data[k] for k in data.files})
    return out


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_episode_seeds_are_pure_and_distinct():
    seeds = [staging.episode_seed(0, "cartpole-swingup", i) for i in range(100)]
    assert seeds == [staging.episode_seed(0, "cartpole-swingup", i) for i in range(100)]
    assert len(set(seeds)) == 100
    assert staging.episode_seed(0, "walker-walk", 0) != seeds[0]
    assert staging.episode_seed(1, "cartpole-swingup", 0) != seeds[0]


def test_interrupted_and_corrupt_shards_are_regenerated(tmp_path, capsys):
    config = jobs.make_run_config("cartpole-swingup", tmp_path, 7, "random", 0, 10, 2)
    first = jobs.ensure_shards([config], workers=1)
    assert first["cartpole-swingup"]["generated"] == 7
    original = _arrays(config)
    shards = config.shards()
    assert [s.num_episodes for s in shards] == [2, 2, 2, 1]
    intact_mtime = shards[2].path.stat().st_mtime_ns
    shards[0].path.unlink()  # lost
    data = shards[1].path.read_bytes()
    shards[1].path.write_bytes(data[: len(data) // 2])  # truncated
    data = bytearray(shards[3].path.read_bytes())
    data[len(data) // 3: len(data) // 3 + 64] = bytes(64)  # corrupted in place
    shards[3].path.write_bytes(bytes(data))
    leftover = shards[0].path.with_name(shards[0].path.name + staging.TMP_MARK + "123")
    leftover.write_bytes(b"half a shard")  # a write killed before its rename

    second = jobs.ensure_shards([config], workers=1)
    err = capsys.readouterr().err
    assert shards[1].path.name in err and shards[3].path.name in err
    assert second["cartpole-swingup"]["generated"] == 5
    assert second["cartpole-swingup"]["episodes"] == 7
    assert second["cartpole-swingup"]["steps"] == first["cartpole-swingup"]["steps"]
    assert shards[2].path.stat().st_mtime_ns == intact_mtime
    assert not leftover.exists()
    _assert_same(_arrays(config), original)
    third = jobs.ensure_shards([config], workers=1)
    assert third["cartpole-swingup"]["generated"] == 0


def test_read_shard_names_the_bad_file(tmp_path):
    config = jobs.make_run_config("cartpole-swingup", tmp_path, 1, "random", 0, 5, 1)
    jobs.ensure_shards([config], workers=1)
    shard = config.shards()[0]
    shard.path.write_bytes(shard.path.read_bytes()[:100])
    with pytest.raises(ValueError, match=shard.path.name):
        staging.read_shard(shard)
    assert "corrupt" in staging.check_shard(shard)
    wrong = staging.Shard(shard.task, 5, 6, shard.path)
    assert staging.check_shard(wrong) is not None


def test_worker_processes_match_serial_run(tmp_path):
    def configs(root):
        return [jobs.make_run_config(t, root, 3, "random", 7, 8, 1)
                for t in ("cartpole-swingup", "pendulum-swingup")]

    serial, parallel = configs(tmp_path / "serial"), configs(tmp_path / "parallel")
    report_serial = jobs.ensure_shards(serial, workers=1)
    report_parallel = jobs.ensure_shards(parallel, workers=2)
    for a, b in zip(serial, parallel, strict=True):
        _assert_same(_arrays(a), _arrays(b))
        assert report_serial[a.task]["steps"] == report_parallel[a.task]["steps"]


@pytest.mark.skipif(not has_expert("cartpole-swingup"), reason="no cartpole expert registered")
def test_expert_episodes_beat_random(tmp_path):
    reports = {p: jobs.ensure_shards(
        [jobs.make_run_config("cartpole-swingup", tmp_path, 2, p, 0, 200, 2)], 1)
        for p in ("expert", "random")}
    expert, random = (reports[p]["cartpole-swingup"]["mean_return"] for p in ("expert", "random"))
    assert expert > random + 10.0, (expert, random)
