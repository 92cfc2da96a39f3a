"""Examples: one training window per example index, a pure function of (seed, host, index).

`ExampleMaker(index)` draws a task from the mixture, then either a packed text chunk or an episode
window (with prompt conditioning) from this host's shard of the task's episodes, and pads it to
seq_len. Everything random comes from `np.random.default_rng([seed, process_index, index])`, so the
pipeline's only state is the next index: resuming and worker parallelism cannot change the data.

Bad episodes (the reader raises, or the episode disagrees with the task's TimestepSpec, or it fails
to tokenize) either raise BadEpisodeError naming task, source and episode index
(on_bad_episode="fail") or are skipped for the next episode of the shard and reported in the
example's `_bad` metadata, which the iterator counts (on_bad_episode="skip").
"""

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from gato.data.pipeline import bad_episodes, mixture, prompting, windows
from gato.tokenizers import sequence as seqlib
from gato.tokenizers.spec import TimestepSpec

ON_BAD_EPISODE = bad_episodes.ON_BAD_EPISODE


@dataclasses.dataclass
class TaskData:
    """One task's data on this host.

    Attributes:
      name, suite: as in the task registry.
      spec: the task's TimestepSpec (None for text).
      episodes: random-access episode source (len(), [i] -> Episode dict); None for text.
      chunks: packed text (windows.TextChunks) or image-text windows
        (image_text.ImageTextWindows): len() and chunk(i); None for control/Atari tasks.
      where: where the data comes from (data_dir, corpus name), for error messages.
      max_episodes: use only the first max_episodes episodes (None: all).
    """

    name: str
    suite: str
    spec: TimestepSpec | None = None
    episodes: Any = None
    chunks: windows.TextChunks | None = None
    where: str = "memory"
    max_episodes: int | None = None

    def shard(self, process_index: int, process_count: int) -> np.ndarray:
        """Episode (or chunk) ids this host reads: ids i with i % process_count == process_index."""
        total = len(self.chunks) if self.chunks is not None else len(self.episodes)
        if self.chunks is None and self.max_episodes is not None:
            total = min(total, int(self.max_episodes))
        ids = np.arange(process_index, total, process_count)
        if ids.size == 0:
            raise ValueError(f"task {self.name!r} ({self.where}) has {total} episodes/chunks, too "
                             f"few for host {process_index} of {process_count}")
        return ids


@dataclasses.dataclass
class ExampleMaker:
    """Callable index -> example dict: TokenSequence fields [seq_len, ...], task_id, metadata."""

    tasks: Sequence[TaskData]
    probabilities: np.ndarray
    seq_len: int
    seed: int
    process_index: int = 0
    process_count: int = 1
    prompt_fraction: float = 0.25
    prompt_end_fraction: float = 0.5
    prompt_tokens: int | None = None
    episode_start_fraction: float = 0.0
    on_bad_episode: str = "skip"
    tokenize: windows.EpisodeTokenizer | None = None

    def __post_init__(self):
        if self.on_bad_episode not in ON_BAD_EPISODE:
            raise ValueError(f"on_bad_episode={self.on_bad_episode!r}; "
                             f"expected one of {ON_BAD_EPISODE}")
        for name in ("prompt_fraction", "prompt_end_fraction", "episode_start_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}={getattr(self, name)} must be in [0, 1]")
        if self.prompt_tokens is None:
            self.prompt_tokens = self.seq_len // 4
        if not 0 <= self.prompt_tokens < self.seq_len:
            raise ValueError(f"prompt_tokens={self.prompt_tokens} must be in "
                             f"[0, seq_len={self.seq_len})")
        if self.tokenize is None:
            from gato.tokenizers.timestep import tokenize_episode
            self.tokenize = tokenize_episode
        self.shards = [t.shard(self.process_index, self.process_count) for t in self.tasks]

    def __call__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, self.process_index, int(index)])
        task_id = mixture.sample_task(rng, self.probabilities)
        task, ids = self.tasks[task_id], self.shards[task_id]
        bad: list[str] = []
        kind = -1  # text windows take no prompt and are not counted among prompt kinds
        if task.chunks is not None:
            seq = task.chunks.chunk(int(ids[rng.integers(ids.size)]))
        else:
            seq, kind = self._episode_example(rng, task, ids, bad)
        seq = seqlib.pad_to(seq, self.seq_len)
        return {**seq, "task_id": np.int32(task_id), "_prompt": int(kind), "_bad": tuple(bad)}

    def _episode_example(self, rng, task: TaskData, ids: np.ndarray, bad: list[str]):
        kind = prompting.draw_kind(rng, self.prompt_fraction, self.prompt_end_fraction)
        ep_id, episode, length = self._read(task, ids, int(ids[rng.integers(ids.size)]), bad)
        prompt = seqlib.empty(0)
        if kind != prompting.PromptKind.NONE:
            other = prompting.choose_episode(rng, ids, ep_id)
            _, p_episode, p_length = self._read(task, ids, other, bad)
            prompt = prompting.prompt_window(rng, kind, self.tokenize, task.spec, p_episode,
                                             p_length, self.prompt_tokens)
            if not seqlib.length(prompt):
                kind = prompting.PromptKind.NONE
        budget = self.seq_len - seqlib.length(prompt)
        _, n_fit = windows.steps_per_budget(self.tokenize, task.spec, episode, budget)
        start = windows.choose_start(rng, length, n_fit)
        if self.episode_start_fraction and rng.random() < self.episode_start_fraction:
            start = 0
        body = windows.episode_window(self.tokenize, task.spec, episode, start, budget, length)
        return seqlib.concat([prompt, body]), kind

    def _read(self, task: TaskData, ids: np.ndarray, ep_id: int, bad: list[str]):
        """(episode id, episode, T), skipping bad episodes cyclically through the shard
        (`gato.data.pipeline.bad_episodes`, the policy `gato offline` and `gato eval` use too)."""
        reader = bad_episodes.EpisodeReader(
            task.name, task.spec, task.episodes, where=task.where, policy=self.on_bad_episode,
            check=lambda e: windows.steps_per_budget(self.tokenize, task.spec, e, self.seq_len))
        reader.skipped = bad
        return reader.read(ep_id, ids)
