"""One training run on every kind of source at once: own RLDS data, vision-language scenes, a
JAT parquet task and a Minari dataset (small data written here in their exact formats)."""

import json

import gymnasium as gym
import numpy as np

from gato import cli
from gato.data.recording import scene_builder
from gato.data.recording.generate import generate_datasets
from gato.envs import registry
from gato.testing.sources import collect_minari, jat_atari_episode, write_jat

MINARI_ID = "gatotest/pendulum/mixed-v0"


def test_one_run_trains_on_own_scenes_jat_and_minari_data(tmp_path, monkeypatch):
    data = tmp_path / "data"
    generate_datasets([registry.get("cartpole-balance")], data, episodes=3, max_episode_steps=20)
    scene_builder.build_scenes(data, train=8, validation=4)
    rng = np.random.default_rng(0)
    write_jat(data / "jat-dataset", "atari-pong", "train",
              [jat_atari_episode(rng, n)[0] for n in (4, 5)])
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    collect_minari(gym.make("Pendulum-v1", max_episode_steps=6), MINARI_ID, 3, seed=1)
    workdir = tmp_path / "run"
    assert cli.main(["train", "--config", f"mixed_sources:quick,minari={MINARI_ID}",
                     "--workdir", str(workdir), "--set", f"data.data_dir={str(data)!r}",
                     "--set", "train.batch_size=16"]) == 0
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in rows if "train/loss" in r][-1]
    assert last["step"] == 2 and np.isfinite(last["train/loss"])
    assert last["train/targets/text"] > 0  # the captions and answers
    assert last["train/targets/continuous"] > 0 and last["train/targets/discrete"] > 0
