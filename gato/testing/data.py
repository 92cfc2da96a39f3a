"""Fakes for tests: a nested-observation environment task, and small RL Unplugged datasets.

`fake_task` is a registry Task whose env has a nested observation (a uint8 image and a dict of
floats), discrete actions and a true termination, so tests cover what the control suite lacks.

`write_rlu_dataset` takes TFDS's own builder for the name (e.g. "rlu_atari/Pong_run_1", whose
features come from tensorflow_datasets.rl_unplugged), serializes episodes with those features as
tf.train.Example records into `<name>-train.tfrecord-00000-of-00001`, and writes
dataset_info.json / features.json beside it, as `tfds.load` would have. No TensorFlow needed.
"""

from pathlib import Path
from typing import Any

import dm_env
import numpy as np
import tensorflow_datasets as tfds
from dm_env import specs

from gato.data.formats import tfrecord
from gato.envs.registry import Task
from gato.tokenizers.spec import TimestepSpec


class NestedEnv(dm_env.Environment):
    """Observation {"pixels": uint8 [8,8,3], "proprio": {"pos": f64 [2], "vel": f64 []}}.

    Actions are ids in [0, 3); reward is the action; the episode terminates (discount 0) after
    `length` steps, `length` drawn from [3, 8) by the seed.
    """

    def __init__(self, seed: int):
        self._rng = np.random.default_rng(seed)
        self._length = int(self._rng.integers(3, 8))
        self._t = 0

    def _observation(self) -> dict[str, Any]:
        return {"pixels": self._rng.integers(0, 256, (8, 8, 3), dtype=np.uint8),
                "proprio": {"pos": self._rng.normal(size=2), "vel": np.float64(self._t)}}

    def reset(self) -> dm_env.TimeStep:
        self._t = 0
        return dm_env.restart(self._observation())

    def step(self, action: Any) -> dm_env.TimeStep:
        self._t += 1
        reward = float(np.asarray(action))
        if self._t >= self._length:
            return dm_env.termination(reward, self._observation())
        return dm_env.transition(reward, self._observation())

    def observation_spec(self) -> dict[str, Any]:
        return {"pixels": specs.Array((8, 8, 3), np.uint8, "pixels"),
                "proprio": {"pos": specs.Array((2,), np.float64, "pos"),
                            "vel": specs.Array((), np.float64, "vel")}}

    def action_spec(self) -> specs.DiscreteArray:
        return specs.DiscreteArray(3, dtype=np.int32, name="action")


def fake_task(name: str = "fake-nested") -> Task:
    """A Task around NestedEnv (register it temporarily, e.g. with monkeypatch.setitem)."""
    spec = TimestepSpec(observation={"pixels": "image", "proprio/pos": "continuous",
                                     "proprio/vel": "continuous"},
                        action_kind="discrete", action_shape=(), num_actions=3)
    return Task(name=name, suite="fake", spec=spec, make_env=NestedEnv,
                max_episode_steps=20, description="nested-observation fake for tests")


def _import_rlu_builders() -> None:
    """Registers TFDS's RLU builders (not imported by `import tensorflow_datasets` without TF)."""
    from tensorflow_datasets.rl_unplugged.rlu_atari import rlu_atari  # noqa: F401
    from tensorflow_datasets.rl_unplugged.rlu_control_suite import rlu_control_suite  # noqa: F401


def _pil_frames(frames: np.ndarray) -> list[Any]:
    """uint8 [T, H, W, 1] -> PIL grayscale images (TFDS encodes those to PNG without TF)."""
    from PIL import Image

    return [Image.fromarray(frame[..., 0], mode="L") for frame in frames]


def random_rlu_episode(rng: np.random.Generator, name: str, length: int,
                       episode_id: int) -> dict[str, Any]:
    """A random episode with the features of RLU dataset `name` (numpy arrays, images raw)."""
    _import_rlu_builders()
    builder = tfds.builder(name)
    steps_spec = builder.info.features["steps"].feature
    obs_spec = steps_spec["observation"]
    if isinstance(obs_spec, tfds.features.FeaturesDict):
        observation = {k: rng.normal(size=(length, *f.shape)).astype(np.float32)
                       for k, f in obs_spec.items()}
    else:
        observation = rng.integers(0, 256, (length, *obs_spec.shape), dtype=np.uint8)
    action_spec = steps_spec["action"]
    if np.issubdtype(action_spec.np_dtype, np.integer):
        action = rng.integers(0, 18, (length, *action_spec.shape)).astype(np.int64)
    else:
        action = rng.uniform(-1, 1, (length, *action_spec.shape)).astype(np.float32)
    flags = np.arange(length)
    steps = {"observation": observation, "action": action,
             "reward": rng.normal(size=length).astype(np.float32),
             "discount": np.ones(length, np.float32), "is_first": flags == 0,
             "is_last": flags == length - 1, "is_terminal": flags == length - 1}
    extra = {k: (np.float32(steps["reward"].sum()) if k == "episode_return" else episode_id)
             for k in builder.info.features if k != "steps"}
    return {"steps": steps, **extra}


def write_tfrecord_dataset(builder: Any, examples: list[dict[str, Any]]) -> Path:
    """Writes examples as `builder`'s prepared train split in tfrecord format; returns its dir.

    Examples must already be encodable without TensorFlow (images as PIL images).
    """
    features = builder.info.features
    out = Path(builder.data_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = [features.serialize_example(example) for example in examples]
    template = tfds.core.naming.ShardedFileTemplate(
        data_dir=out, dataset_name=builder.name, split="train", filetype_suffix="tfrecord")
    tfrecord.write_records(template.sharded_filepath(shard_index=0, num_shards=1), records)
    split = tfds.core.SplitInfo(name="train", shard_lengths=[len(records)],
                                num_bytes=sum(map(len, records)), filename_template=template)
    builder.info.set_splits(tfds.core.SplitDict([split]))
    builder.info.set_file_format("tfrecord", override=True)
    builder.info.write_to_directory(out)
    return out


def write_rlu_dataset(data_dir: str | Path, name: str, episodes: list[dict[str, Any]]) -> Path:
    """Writes `episodes` as the prepared TFDS dataset `name` in data_dir; returns its dir."""
    _import_rlu_builders()
    builder = tfds.builder(name, data_dir=str(data_dir))
    examples = []
    for episode in episodes:
        steps = dict(episode["steps"])
        if isinstance(builder.info.features["steps"].feature["observation"], tfds.features.Image):
            steps["observation"] = _pil_frames(steps["observation"])
        examples.append({**episode, "steps": steps})
    return write_tfrecord_dataset(builder, examples)
