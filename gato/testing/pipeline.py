"""In-memory episode sources and tasks for the data pipeline's tests and benchmark.

Fake control episodes make windows easy to read back: observation "episode" (discrete) holds the
episode id and "step" (discrete) the timestep index, so a window's tokens say which episode and
timesteps it holds. With keys in lexicographic order a timestep is 8 tokens:

    [episode][state x3][step][SEPARATOR][action x2]     local_pos 0, 1-3, 4, then 0
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from gato.data.pipeline.examples import TaskData
from gato.data.pipeline.windows import TextChunks
from gato.tokenizers.spec import TimestepSpec

CONTROL_SPEC = TimestepSpec(
    observation={"episode": "discrete", "state": "continuous", "step": "discrete"},
    action_kind="continuous", action_shape=(2,), action_minimum=-1.0, action_maximum=1.0)
CONTROL_TOKENS_PER_STEP = 8
ATARI_SPEC = TimestepSpec(observation={"pixels": "image"}, action_kind="discrete",
                          action_shape=(), num_actions=6)


def control_episode(episode_id: int, length: int, rng: np.random.Generator) -> dict[str, Any]:
    """One RLDS-layout episode of CONTROL_SPEC with `length` steps."""
    return {
        "observation": {
            "episode": np.full((length,), episode_id, np.int32),
            "step": np.arange(length, dtype=np.int32),
            "state": rng.normal(size=(length, 3)).astype(np.float32),
        },
        "action": rng.uniform(-1, 1, size=(length, 2)).astype(np.float32),
        "reward": rng.normal(size=(length,)).astype(np.float32),
        "discount": np.ones((length,), np.float32),
        "is_first": np.arange(length) == 0,
        "is_last": np.arange(length) == length - 1,
        "is_terminal": np.zeros((length,), bool),
    }


def control_episodes(count: int, seed: int = 0, min_len: int = 4,
                     max_len: int = 40) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [control_episode(i, int(rng.integers(min_len, max_len + 1)), rng) for i in range(count)]


def atari_episodes(count: int, seed: int = 0, length: int = 12,
                   size: int = 32) -> list[dict[str, Any]]:
    """ATARI_SPEC episodes with random size x size RGB frames ((size // 16)^2 patches per frame)."""
    rng = np.random.default_rng(seed)
    return [{"observation": {"pixels": rng.integers(0, 256, (length, size, size, 3), np.uint8)},
             "action": rng.integers(0, 6, (length,)).astype(np.int32)} for _ in range(count)]


def text_chunks(seq_len: int, count: int = 30, seed: int = 0) -> TextChunks:
    """A few generated documents packed with the real text tokenizer."""
    from gato.tokenizers.text import default_tokenizer

    rng = np.random.default_rng(seed)
    words = ["agent", "policy", "reward", "token", "window", "episode", "model", "the", "a", "of"]
    docs = [" ".join(rng.choice(words, int(rng.integers(5, 60)))) + "." for _ in range(count)]
    tokenizer = default_tokenizer()
    return TextChunks([tokenizer.tokenize_document(d) for d in docs], seq_len)


class RecordingSource(Sequence):
    """A random-access episode source that records which ids were read; some ids can be bad."""

    def __init__(self, episodes: Sequence[dict[str, Any]], broken: Sequence[int] = (),
                 corrupt: Sequence[int] = ()):
        self.episodes = list(episodes)
        self.broken = set(broken)  # reading these raises, like a truncated file
        self.corrupt = set(corrupt)  # these lose their "state" key (spec mismatch)
        self.read: list[int] = []

    def __len__(self) -> int:
        return len(self.episodes)

    def __getitem__(self, index: int) -> dict[str, Any]:
        self.read.append(int(index))
        if index in self.broken:
            raise OSError(f"truncated record {index}")
        episode = self.episodes[index]
        if index in self.corrupt:
            observation = {k: v for k, v in episode["observation"].items() if k != "state"}
            episode = {**episode, "observation": observation}
        return episode


def fake_tasks(seq_len: int, episodes: int = 8, seed: int = 0) -> list[TaskData]:
    """Two control tasks, one Atari-like task and one text task, all in memory."""
    return [
        TaskData("walk", "control", CONTROL_SPEC, control_episodes(episodes, seed)),
        TaskData("run", "control", CONTROL_SPEC, control_episodes(episodes, seed + 1)),
        TaskData("pong", "atari", ATARI_SPEC, atari_episodes(episodes, seed)),
        TaskData("pydocs", "text", chunks=text_chunks(seq_len, seed=seed)),
    ]
