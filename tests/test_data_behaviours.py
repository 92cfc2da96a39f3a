"""Mixed-quality datasets: behaviour mixes, executed actions stored, manifests that match the
data, `gato data describe`, and the %BC filter of the training pipeline."""

import json

import numpy as np
import pytest

from gato import cli
from gato.config import complete
from gato.data import formats
from gato.data.formats import manifest as manifest_lib
from gato.data.pipeline import resolve
from gato.data.pipeline.filtering import SubsetSource
from gato.data.recording import record
from gato.data.recording.behaviours import Behaviour, parse_behaviours
from gato.envs import registry
from gato.policies.noise import ExecutionNoise
from gato.testing.data import NestedEnv, fake_task

MIX = "expert:2,noisy0.5:2,noisy1:2,random:2"


def test_behaviour_mixes_parse_and_bad_ones_say_the_form():
    mix = parse_behaviours(MIX)
    assert mix == [Behaviour("expert", 2), Behaviour("expert", 2, 0.5),
                   Behaviour("expert", 2, 1.0), Behaviour("random", 2)]
    assert [b.label(0.9) for b in mix] == [
        "expert", "expert+executed_noise=0.5,correlation=0.9",
        "expert+executed_noise=1,correlation=0.9", "random"]
    for bad in ("expert", "noisy:3", "greedy:2", "expert:2,expert:3", "random:0"):
        with pytest.raises(ValueError, match="expected expert:N|twice|no episodes"):
            parse_behaviours(bad)


class _Zero:
    def reset(self, seed: int) -> None:
        pass

    def step(self, timestep):
        return np.int64(0)


def test_executed_actions_are_stored_so_returns_belong_to_them():
    """NestedEnv's reward is the executed action: with store_executed the stored actions are
    exactly the rewarded ones; without it (DART) the policy's zeros are stored."""
    spec = fake_task().spec

    def run(store_executed):
        return record.record_episode(NestedEnv(5), _Zero(), 5, 20, ExecutionNoise(spec, 1.0),
                                     store_executed)

    executed, dart = run(True), run(False)
    np.testing.assert_array_equal(executed["action"][:-1], executed["reward"][:-1])
    assert executed["reward"][:-1].sum() > 0
    np.testing.assert_array_equal(dart["action"][:-1], 0)
    np.testing.assert_array_equal(dart["reward"], executed["reward"])


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A mixed cart-pole dataset of 8 short episodes (2 per behaviour)."""
    root = tmp_path_factory.mktemp("mixed")
    argv = ["generate", "--tasks", "cartpole-swingup", "--behaviours", MIX,
            "--noise-correlation", "0.9", "--max-episode-steps", "40", "--shard-size", "2",
            "--data-dir", str(root)]
    assert cli.main(argv) == 0
    return root


def test_mixed_dataset_labels_every_episode_and_its_manifest_matches(mixed, capsys):
    source = formats.load_episodes("cartpole-swingup", mixed)
    assert len(source) == 8
    meta = [source.metadata(i) for i in range(8)]
    assert [m["episode_id"] for m in meta] == list(range(8))
    assert len({m["seed"] for m in meta}) == 8  # every episode has its own seed
    assert [m["policy"] for m in meta] == ["expert"] * 2 + [
        "expert+executed_noise=0.5,correlation=0.9"] * 2 + [
        "expert+executed_noise=1,correlation=0.9"] * 2 + ["random"] * 2
    returns = [float(np.sum(source[i]["reward"], dtype=np.float64)) for i in range(8)]
    np.testing.assert_allclose([m["return"] for m in meta], returns)
    m = manifest_lib.read_manifest(source.builder_dir)
    assert m is not None and m["episodes"] == 8 and m["task"] == "cartpole-swingup"
    np.testing.assert_allclose(m["episode_returns"], returns)
    assert m["episode_policies"] == [x["policy"] for x in meta]
    steps = [len(source[i]["reward"]) for i in range(8)]
    assert m["steps"] == sum(steps) and m["timesteps"] == sum(steps) - 8
    assert m["tokens_per_timestep"] == 5 + 1 + 1 and m["tokens"] == 7 * m["timesteps"]
    assert m["returns"]["median"] == pytest.approx(np.median(returns))
    assert m["policies"]["random"]["returns"]["max"] == pytest.approx(max(returns[6:]))
    assert m["generation"]["behaviours"] == MIX
    assert cli.main(["data", "describe", str(mixed)]) == 0
    out = capsys.readouterr().out
    assert "cartpole-swingup (control): 8 episodes" in out and "random" in out
    assert cli.main(["data", "describe", str(mixed), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["episode_returns"] == m["episode_returns"]


def test_describe_computes_a_missing_manifest(mixed, capsys):
    directory = formats.load_episodes("cartpole-swingup", mixed).builder_dir
    kept = manifest_lib.read_manifest(directory)
    (directory / manifest_lib.MANIFEST_NAME).unlink()
    try:
        assert cli.main(["data", "describe", str(directory)]) == 0
        assert "8 episodes" in capsys.readouterr().out
        assert manifest_lib.read_manifest(directory) is None
        assert cli.main(["data", "describe", str(mixed), "--write"]) == 0
        assert manifest_lib.read_manifest(directory)["episode_returns"] == \
            kept["episode_returns"]
    finally:
        manifest_lib.write_manifest(directory, kept)
    assert cli.main(["data", "describe", str(mixed / "nothing")]) == 1


def test_filter_keeps_exactly_each_tasks_top_episodes(mixed):
    config = complete({"data": {
        "suites": "", "tasks": "cartpole-swingup", "data_dir": str(mixed),
        "mixture": {"control": 1.0}, "filter": {"top_fraction": 0.25}}}).data
    (task,) = resolve.resolve_tasks(config, 64)
    returns = manifest_lib.read_manifest(
        formats.load_episodes("cartpole-swingup", mixed).builder_dir)["episode_returns"]
    assert len(set(returns)) == 8  # distinct returns: the top two are a real choice
    assert isinstance(task.episodes, SubsetSource) and len(task.episodes) == 2
    best = sorted(np.argsort(-np.asarray(returns), kind="stable")[:2].tolist())
    assert task.episodes.indices.tolist() == best
    assert min(returns[i] for i in best) >= max(
        r for i, r in enumerate(returns) if i not in best)
    config.filter.top_fraction = 1.0
    (task,) = resolve.resolve_tasks(config, 64)
    assert len(task.episodes) == 8 and not isinstance(task.episodes, SubsetSource)


def test_behaviours_exclude_dart_noise(tmp_path):
    from gato.data.recording.generate import generate_datasets

    with pytest.raises(ValueError, match="does not apply to a mix"):
        generate_datasets([registry.get("cartpole-swingup")], tmp_path, episodes=1,
                          behaviours="expert:1", action_noise=0.5)
