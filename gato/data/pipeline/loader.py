"""The training data pipeline: episodes and documents -> windows -> task mixture -> batches.

    make_iterator(data_config, batch_size=..., seq_len=..., seed=..., process_index=...,
                  process_count=...) -> PipelineIterator

yields dicts of numpy arrays: every TokenSequence field with shape [batch_size, seq_len, ...] plus
`task_id` int32 [batch_size] (an index into `iterator.task_names`, sorted by name). Example i of a
host is a pure function of (seed, process_index, i) (see `gato.data.pipeline.examples`); each host
reads only its shard of every task's episodes (ids i % process_count == process_index).

Why grain: tf.data needs TensorFlow, which this project does not install; grain is the JAX-native
loader (used by MaxText), reads any random-access source, runs Python transforms in worker
processes (`mp_prefetch`, data_config.worker_count) without the GIL limiting tokenization, is
deterministic for a seed whatever the worker count, and starts at any position of a random-access
dataset. The iterator's state is the number of batches consumed (plus statistics): JSON, and valid
across worker counts, which grain's own per-worker iterator state is not.
"""

import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

import grain
import ml_collections
import numpy as np

from gato.config import defaults
from gato.data import parent_watch
from gato.data.pipeline import mixture, prompting
from gato.data.pipeline.examples import ExampleMaker, TaskData
from gato.tokenizers.sequence import FIELDS

_MAX_BAD_LISTED = 20


def default_data_config() -> ml_collections.ConfigDict:
    """The data section's defaults (`gato.config.defaults`)."""
    return defaults.section("data")


@dataclasses.dataclass(frozen=True)
class Loader:
    """The grain pipeline over example indices, startable at any batch.

    Batch j holds examples [j * batch_size, (j + 1) * batch_size) whatever the worker count, so a
    position is just a batch number: states stay valid if worker_count changes between runs.
    """

    maker: ExampleMaker
    batch_size: int
    worker_count: int = 0
    read_threads: int = 1
    prefetch_batches: int = 4

    def iterator(self, start_batch: int) -> grain.DatasetIterator:
        """A grain iterator yielding collated batches start_batch, start_batch + 1, ..."""
        dataset = (grain.MapDataset.range(start_batch * self.batch_size, sys.maxsize)
                   .map(self.maker)
                   .batch(self.batch_size, drop_remainder=True, batch_fn=_collate)
                   .to_iter_dataset(grain.ReadOptions(num_threads=self.read_threads,
                                                      prefetch_buffer_size=self.prefetch_batches)))
        if self.worker_count > 0:
            _mark_flags_parsed()
            dataset = dataset.mp_prefetch(grain.MultiprocessingOptions(
                num_workers=self.worker_count, per_worker_buffer_size=self.prefetch_batches),
                worker_init_fn=parent_watch.exit_with_parent)  # no orphans after kill -9
        return iter(dataset)


class PipelineIterator:
    """Iterator over batches with checkpointable state and data statistics.

    Worker processes (if any) start on the first `next`, so `set_state` right after construction
    costs nothing.

    Attributes:
      task_names: sorted task names; batch["task_id"] indexes this list.
      stats: examples seen per task, prompt kinds, bad episodes skipped (counts and messages).
    """

    def __init__(self, loader: Loader, task_names: Sequence[str]):
        self.task_names = list(task_names)
        self._loader = loader
        self._iterator: grain.DatasetIterator | None = None
        self._batches = 0  # batches handed out so far: the position
        self.stats = self._empty_stats()

    def _empty_stats(self) -> dict[str, Any]:
        return {"examples": 0, "per_task": dict.fromkeys(self.task_names, 0),
                "prompts": {k.name.lower(): 0 for k in prompting.PromptKind},
                "bad_episode_skips": 0, "bad_episodes": []}

    def __iter__(self) -> "PipelineIterator":
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        if self._iterator is None:
            self._iterator = self._loader.iterator(self._batches)
        raw = next(self._iterator)
        self._batches += 1
        batch = {k: np.array(raw[k]) for k in (*FIELDS, "task_id")}
        self._count(batch["task_id"], np.asarray(raw["_prompt"]), raw["_bad"])
        return batch

    def _count(self, task_ids: np.ndarray, prompts: np.ndarray, bad: Sequence[str]) -> None:
        s = self.stats
        s["examples"] += int(task_ids.size)
        for t in task_ids.tolist():
            s["per_task"][self.task_names[t]] += 1
        for k in prompting.PromptKind:
            s["prompts"][k.name.lower()] += int((prompts == k).sum())
        s["bad_episode_skips"] += len(bad)
        for message in bad:
            if message not in s["bad_episodes"] and len(s["bad_episodes"]) < _MAX_BAD_LISTED:
                s["bad_episodes"].append(message)

    def get_state(self) -> dict[str, Any]:
        """JSON-serializable state: batches consumed and the statistics so far."""
        return {"batches": self._batches, "stats": _copy_stats(self.stats)}

    def set_state(self, state: dict[str, Any]) -> None:
        """Continues after the batches counted in `state` (from get_state, same data config)."""
        if not isinstance(state.get("batches"), int) or state["batches"] < 0:
            raise ValueError(f"not a data pipeline state: {state!r:.200}")
        self.close()
        self._batches = state["batches"]
        self.stats = _copy_stats(state.get("stats") or self._empty_stats())

    def close(self) -> None:
        """Stops worker processes (if any); a later `next` starts them again."""
        if self._iterator is not None:
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()
            self._iterator = None


def _copy_stats(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
            for k, v in stats.items()}


def _collate(examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stacks array fields; keeps `_bad` messages as one flat tuple."""
    out = {k: np.stack([e[k] for e in examples]) for k in (*FIELDS, "task_id", "_prompt")}
    out["_bad"] = tuple(m for e in examples for m in e["_bad"])
    return out


def example_maker(tasks: Sequence[TaskData], data_config: ml_collections.ConfigDict, *,
                  seq_len: int, seed: int, process_index: int = 0, process_count: int = 1,
                  tokenize=None) -> ExampleMaker:
    """The training examples (index -> window) of `data_config` over `tasks`, sorted by name:
    what `build_iterator` batches, and what benchmarks.padding counts."""
    tasks = sorted(tasks, key=lambda t: t.name)
    probs = mixture.task_probabilities(
        [(t.name, t.suite) for t in tasks], dict(data_config.mixture),
        dict(data_config.task_weights))
    return ExampleMaker(
        tasks, probs, seq_len, seed, process_index, process_count,
        prompt_fraction=float(data_config.prompt_fraction),
        prompt_end_fraction=float(data_config.prompt_end_fraction),
        episode_start_fraction=float(data_config.episode_start_fraction),
        prompt_tokens=data_config.prompt_tokens,
        on_bad_episode=data_config.on_bad_episode, tokenize=tokenize)


def build_iterator(tasks: Sequence[TaskData], data_config: ml_collections.ConfigDict, *,
                   batch_size: int, seq_len: int, seed: int, process_index: int = 0,
                   process_count: int = 1, tokenize=None) -> PipelineIterator:
    """The pipeline over already-resolved tasks (in-memory sources work: tests, custom data).

    `tokenize` overrides gato.tokenizers.timestep.tokenize_episode (it must be picklable when
    worker_count > 0).
    """
    if batch_size < 1 or seq_len < 1:
        raise ValueError(f"batch_size={batch_size} and seq_len={seq_len} must be >= 1")
    if not 0 <= process_index < process_count:
        raise ValueError(f"process_index={process_index} not in [0, process_count={process_count})")
    maker = example_maker(tasks, data_config, seq_len=seq_len, seed=seed,
                          process_index=process_index, process_count=process_count,
                          tokenize=tokenize)
    loader = Loader(maker, batch_size, int(data_config.worker_count),
                    int(data_config.read_threads), int(data_config.prefetch_batches))
    return PipelineIterator(loader, [t.name for t in maker.tasks])


def _mark_flags_parsed() -> None:
    """grain's worker processes read absl flags; outside an absl app they are not parsed yet."""
    from absl import flags

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


def make_iterator(data_config: ml_collections.ConfigDict, *, batch_size: int, seq_len: int,
                  seed: int, process_index: int = 0, process_count: int = 1) -> PipelineIterator:
    """The training iterator for this host (the "mixture" source of gato.data.pipeline.sources).

    Args:
      data_config: see `default_data_config`.
      batch_size: sequences per batch on this host.
      seq_len: tokens per sequence.
      seed: data seed; the same seed gives the same batches whatever worker_count is.
      process_index, process_count: this host and the number of hosts (episode sharding).
    """
    from gato.data.pipeline.resolve import resolve_tasks

    tasks = resolve_tasks(data_config, seq_len)
    return build_iterator(tasks, data_config, batch_size=batch_size, seq_len=seq_len, seed=seed,
                          process_index=process_index, process_count=process_count)


make_train_iterator = make_iterator  # the name docs/ARCHITECTURE.md uses
