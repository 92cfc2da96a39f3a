"""Small datasets in outside formats, written exactly as their tools write them: the JAT
dataset's parquet files (one row per episode, list columns per timestep) and Minari datasets made
with Minari's own DataCollector. Shared by the readers' tests and the mixed-source smoke run;
pyarrow and minari (the `jat` and `minari` extras) are imported when used."""

import io
import warnings

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from PIL import Image


# The arrow types HF datasets gives JAT's features: Sequence(Value), Sequence(Sequence(Value)),
# Sequence(Image()) (an image is a struct of PNG bytes and a path).
def jat_types() -> dict:
    """JAT's columns as arrow types (pyarrow: the `jat` extra)."""
    import pyarrow as pa

    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    return {"rewards": pa.list_(pa.float32()), "discrete_actions": pa.list_(pa.int64()),
            "continuous_actions": pa.list_(pa.list_(pa.float32())),
            "continuous_observations": pa.list_(pa.list_(pa.float32())),
            "discrete_observations": pa.list_(pa.list_(pa.int64())),
            "text_observations": pa.list_(pa.string()), "image_observations": pa.list_(image)}


def png(frame: np.ndarray) -> bytes:
    """A frame as PNG bytes (JAT's Image feature)."""
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG")  # 84x84x4 uint8: an RGBA PNG, as JAT's
    return buffer.getvalue()


def write_jat(root, config, split, episodes, shards=1, row_group_size=2):
    """Episodes (dicts of JAT columns) as `<root>/<config>/<split>-0000i-of-0000n.parquet`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = jat_types()
    folder = root / config
    folder.mkdir(parents=True, exist_ok=True)
    parts = np.array_split(np.arange(len(episodes)), shards)
    for i, part in enumerate(parts):
        rows = [episodes[j] for j in part]
        table = pa.table({c: pa.array([r[c] for r in rows], types[c]) for c in rows[0]})
        pq.write_table(table, folder / f"{split}-{i:05d}-of-{shards:05d}.parquet",
                       row_group_size=row_group_size)


def jat_atari_episode(rng, steps):
    frames = rng.integers(0, 256, (steps, 84, 84, 4), np.uint8)
    return {"image_observations": [{"bytes": png(f), "path": None} for f in frames],
            "discrete_actions": rng.integers(0, 6, steps).tolist(),
            "rewards": rng.choice([-1.0, 0.0, 1.0], steps).astype(np.float32).tolist()}, frames


def jat_babyai_episode(rng, steps):
    symbolic = np.concatenate([rng.integers(0, 4, (steps, 1)), rng.integers(0, 11, (steps, 147))],
                              axis=1)
    return {"text_observations": ["go to the red ball"] * steps,
            "discrete_observations": symbolic.tolist(),
            "discrete_actions": rng.integers(0, 7, steps).tolist(),
            "rewards": [0.0] * (steps - 1) + [0.82]}


def jat_continuous_episode(rng, steps, state, action):
    return {"continuous_observations": rng.normal(size=(steps, state)).astype(np.float32).tolist(),
            "continuous_actions": rng.uniform(-1, 1, (steps, action)).astype(np.float32).tolist(),
            "rewards": rng.normal(size=steps).astype(np.float32).tolist()}


class Room(gym.Env):
    """A tiny env with a Dict observation (Discrete with a start, MultiDiscrete, Text, Box) and
    Discrete actions; action 2 at step >= 2 terminates, else a 6-step time limit truncates."""

    observation_space = spaces.Dict({
        "pos": spaces.Discrete(5, start=-2), "grid": spaces.MultiDiscrete([3, 4]),
        "goal": spaces.Text(16, charset="abcdefghijklmnopqrstuvwxyz "),
        "vel": spaces.Box(-1.0, 1.0, (2,), np.float32)})
    action_space = spaces.Discrete(3)

    def _obs(self):
        return {"pos": int(self.np_random.integers(-2, 3)),
                "grid": self.np_random.integers(0, [3, 4]).astype(np.int64),
                "goal": ["red door", "blue key"][self.t % 2],
                "vel": self.np_random.uniform(-1, 1, 2).astype(np.float32)}

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        terminated = bool(action == 2 and self.t >= 2)
        return self._obs(), float(self.t + action), terminated, self.t >= 6 and not terminated, {}


def collect_minari(env, dataset_id, episodes, seed):
    """Steps a DataCollector-wrapped env with random actions; returns what was seen per episode."""
    import minari

    env = minari.DataCollector(env)
    rng, seen = np.random.default_rng(seed), []
    for e in range(episodes):
        obs, _ = env.reset(seed=seed + e)
        record = {"obs": [obs], "actions": [], "rewards": [], "terminated": False}
        while True:
            if isinstance(env.action_space, spaces.Discrete):
                action = int(rng.integers(3))
            else:
                action = rng.uniform(-2, 2, (1,)).astype(np.float32)
            obs, reward, terminated, truncated, _ = env.step(action)
            record["obs"].append(obs)
            record["actions"].append(action)
            record["rewards"].append(reward)
            if terminated or truncated:
                record["terminated"] = terminated
                break
        seen.append(record)
    with warnings.catch_warnings():  # Minari asks for an eval_env and an env spec: none here
        warnings.simplefilter("ignore", UserWarning)
        env.create_dataset(dataset_id, algorithm_name="random", author="gato tests",
                           author_email="none", code_permalink="none", description="test data")
    return seen
