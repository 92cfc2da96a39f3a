"""How much an agent reads its instruction: BabyAI windows with another episode's mission
(`gato offline --missions shuffled`) and environments that show another episode's mission
(`eval.instruction="other"`)."""

import numpy as np
import pytest

from gato.data.formats import load_episodes
from gato.data.recording.generate import generate_datasets
from gato.envs import registry
from gato.envs.instruction import with_other_instruction
from gato.eval import offline
from gato.testing.eval import tiny_model

TASK = "babyai-go-to-local"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("babyai")
    generate_datasets([registry.get(TASK)], data_dir, episodes=4, shard_size=4,
                      max_episode_steps=12)
    return data_dir


@pytest.fixture(scope="module")
def episodes(data_dir):
    return load_episodes(TASK, data_dir)


def _missions(pairs):
    """Each episode's first-step mission (bytes as RLDS reads it back)."""
    return [np.asarray(e["observation"]["mission"], object)[0] for e, _ in pairs]


def test_swapped_missions_are_other_episodes_and_the_rest_is_kept(episodes):
    spec = registry.get(TASK).spec
    pairs = [(episodes[i], len(episodes[i]["action"])) for i in range(len(episodes))]
    own = _missions(pairs)
    assert len(set(own)) > 1  # GoToLocal draws an instruction per episode
    swapped = offline.swap_missions(spec, pairs, np.random.default_rng(0))
    got = _missions(swapped)
    assert sorted(got) == sorted(own) and all(g != o for g, o in zip(got, own, strict=True))
    for (episode, _), (new, _) in zip(pairs, swapped, strict=True):
        np.testing.assert_array_equal(episode["action"], new["action"])
        np.testing.assert_array_equal(episode["observation"]["image"],
                                      new["observation"]["image"])
        assert len(set(np.asarray(new["observation"]["mission"], object))) == 1


def test_offline_scores_the_same_actions_under_shuffled_missions(episodes):
    spec = registry.get(TASK).spec
    model, params = tiny_model(seed=0, max_len=256)
    kwargs = dict(count=4, seq_len=256, at_start=True, batch_size=4, seed=0)
    own = offline.evaluate_task(model, params, spec, episodes, **kwargs)
    other = offline.evaluate_task(model, params, spec, episodes, missions="shuffled", **kwargs)
    assert own["action_tokens"] == other["action_tokens"] > 0
    assert own["nll"] != other["nll"]  # the windows' text differs, so the model's input does
    with pytest.raises(ValueError, match="text observations"):
        offline.swap_missions(registry.get("cartpole-swingup").spec, [], np.random.default_rng())


def test_in_training_evaluator_scores_the_same_windows_with_shuffled_missions(data_dir,
                                                                             episodes):
    """The "offline" evaluator's missions option: a learning curve of how much the actions
    read the instruction, on exactly the windows `gato offline --missions shuffled` scores."""
    from gato.config import complete
    from gato.model.build import build_model
    from gato.testing.model import init_params
    from gato.train import evaluators

    config = complete({"model": {"name": "tiny", "overrides": {"max_len": 256}},
                       "data": {"data_dir": str(data_dir), "suites": "", "tasks": TASK}})
    factory = evaluators.get("offline")
    model, model_config = build_model(config.model)
    params = init_params(model_config)
    got = {}
    for missions in offline.MISSION_MODES:
        run = factory(config, {"windows": 4, "at_start": True, "missions": missions,
                               "prefix": missions}, data_dir).run(params, 0)
        got[missions] = run[f"{missions}/babyai/{TASK}/nll"]
        want = offline.evaluate_task(model, params, registry.get(TASK).spec, episodes, count=4,
                                     seq_len=256, at_start=True, missions=missions)
        assert got[missions] == pytest.approx(want["nll"], rel=1e-6)
    assert got["recorded"] != got["shuffled"]
    with pytest.raises(ValueError, match="missions 'other' is not one of recorded, shuffled"):
        factory(config, {"missions": "other"}, data_dir)


def test_offline_windows_with_one_token_per_cell_hold_more_timesteps(episodes):
    """data.grid_cells through the windows the offline evaluator (and the pipeline) cut: the
    same episodes, 58 instead of 156 tokens a step, so a window scores more actions."""
    from gato.config import section
    from gato.envs.specs import task_spec

    data = section("data")
    data.grid_cells = True
    model, params = tiny_model(seed=0, max_len=256)
    kwargs = dict(count=4, seq_len=256, at_start=True, batch_size=4, seed=0)
    per_component = offline.evaluate_task(model, params, registry.get(TASK).spec, episodes,
                                          **kwargs)
    cells = offline.evaluate_task(model, params, task_spec(registry.get(TASK), data), episodes,
                                  **kwargs)
    assert cells["action_tokens"] > per_component["action_tokens"] > 0
    assert np.isfinite(cells["nll"])


def test_other_instruction_keeps_the_level_and_replaces_the_mission():
    task = registry.get(TASK)
    wrong = with_other_instruction(task)
    for seed in range(3):
        own_env, env = task.make_env(seed), wrong.make_env(seed)
        own, shown = own_env.reset(), env.reset()
        assert shown.observation["mission"] != own.observation["mission"]
        np.testing.assert_array_equal(shown.observation["image"], own.observation["image"])
        after = env.step(2)
        assert after.observation["mission"] == shown.observation["mission"]
        assert own_env.step(2).reward == after.reward and env.success is False
    with pytest.raises(ValueError, match="no text observation"):
        with_other_instruction(registry.get("cartpole-swingup"))


def test_any_solvable_level_resolves_by_name_where_a_task_name_goes():
    task = registry.get("babyai-go-to-seq")  # not among the defaults: resolved on first use
    assert task.suite == "babyai" and registry.registered("babyai-go-to-seq")
    assert [t.name for t in registry.select(None, "BabyAI-GoToDoor-v0")] == ["babyai-go-to-door"]
    with pytest.raises(ValueError, match="cannot solve"):
        registry.get("babyai-key-in-box")


def test_manifest_counts_each_timestep_with_its_mission(data_dir, episodes):
    """Timesteps with text differ in length: the manifest counts the tokens Gato's layout
    makes of every episode (what `gato data describe` prints)."""
    from gato.data.formats import manifest
    from gato.tokenizers.timestep import tokenize_episode

    spec = registry.get(TASK).spec
    got, _ = manifest.dataset_manifest(TASK, data_dir)
    want = 0
    for i in range(len(episodes)):
        e = episodes[i]
        steps = len(e["action"]) - 1  # the last RLDS step holds only the final observation
        obs = {k: np.asarray(v)[:steps] for k, v in e["observation"].items()}
        want += len(tokenize_episode(spec, obs, np.asarray(e["action"])[:steps])["tokens"])
    assert got["tokens_per_timestep"] is None and got["tokens"] == want > 0
    assert "tokens per timestep" in manifest.format_manifest(got)
