"""Prompts read from a real TFDS/RLDS dataset written by the project's builder."""

import numpy as np

from gato.data import formats
from gato.data.recording import builder
from gato.envs import registry
from gato.eval.config import default_eval_config
from gato.eval.evaluator import Evaluator
from gato.eval.prompts import load_prompt_source
from gato.eval.scripted import PolicyAgent
from gato.testing.eval import CounterExpert, counter_task
from gato.tokenizers.timestep import tokenize_timestep


class _CounterBuilder(builder.GatoEpisodeBuilder, skip_registration=True):
    name = "gato_test"
    suite = "test"
    BUILDER_CONFIGS = [builder.TaskConfig(name="test-counter")]


def test_prompts_from_generated_dataset(tmp_path, monkeypatch):
    registry.all_tasks()
    task = counter_task(length=6)
    monkeypatch.setitem(registry._TASKS, task.name, task)
    b = _CounterBuilder(config=task.name, data_dir=str(tmp_path), episodes=3, policy="random",
                        seed=0, shard_size=3, workers=1)
    b.download_and_prepare()
    episodes = formats.load_episodes(task.name, tmp_path)
    source = load_prompt_source(task, "end", 9, str(tmp_path))
    prompt = source.prompt([11])
    demo = episodes[int(np.random.default_rng(11).integers(len(episodes)))]
    last = [tokenize_timestep(task.spec, {k: v[t] for k, v in demo["observation"].items()},
                              demo["action"][t])["tokens"] for t in range(len(demo["action"]) - 1)]
    np.testing.assert_array_equal(prompt["tokens"][0], np.concatenate(last)[-9:])

    config = default_eval_config()
    config.update({"episodes": 2, "batch_size": 2, "prompt": "start", "prompt_tokens": 8,
                   "data_dir": str(tmp_path), "gif": False})
    results = Evaluator(config, tasks=[task], out_dir=tmp_path / "out").evaluate(
        lambda t: PolicyAgent(lambda env: CounterExpert()), step=0)
    assert [e["prompt_tokens"] for e in results["episodes"][task.name]] == [8, 8]
    assert not results["warnings"]
