"""Deterministic, learnable, mixed-modality batches in the exact TokenSequence layout.

A real data source for tests and benchmarks. Every row of every batch is a pure function of
(seed, step, global row index), so:
  * the iterator state is just the step (checkpoint/resume is exact);
  * each host builds only its own rows (rows `process_index * batch_size + [0, batch_size)`), and
    the global batch is the same whatever the number of processes.

A row is either a text document (task 0) or a control episode of task k in [1, num_tasks]:
  text:    an arithmetic progression of subword ids, a + i*d (mod `text_vocab`), all loss targets.
  control: timesteps of [image patches, continuous obs, discrete obs, separator, actions]; the
           action tokens are a deterministic function of the observation tokens
           (action j = (discrete obs j + k) mod 1024, with continuous obs copied after them),
           so a model that learns the rule drives the action loss towards zero.
Rows are packed to `seq_len` (the last timestep may be cut) and padded with PAD tokens.
"""

from collections.abc import Iterator
from typing import Any

import numpy as np

from gato.tokenizers import sequence as seqlib
from gato.tokenizers.sequence import Modality, TokenSequence
from gato.tokenizers.vocab import (
    CONTINUOUS_BINS,
    CONTINUOUS_OFFSET,
    DISCRETE_VOCAB_SIZE,
    IMAGE_CHANNELS,
    PATCH_SIZE,
    SEPARATOR_ID,
)

DEFAULTS: dict[str, Any] = {
    "image_patches": 4,  # patches per observation image, a square number (2x2 grid)
    "num_continuous": 3,  # continuous observation values per timestep
    "num_discrete": 2,  # discrete observation values per timestep (= discrete action tokens)
    "discrete_range": 16,  # discrete observations take values in [0, discrete_range)
    "num_tasks": 3,  # control tasks 1..num_tasks (task 0 is text)
    "text_fraction": 0.25,  # probability that a row is a text document
    "text_vocab": 256,  # text rows use subword ids in [0, text_vocab)
}


def _field(data_config: Any, key: str) -> Any:
    """Reads `key` from a ConfigDict/dict, falling back to DEFAULTS."""
    getter = getattr(data_config, "get", None)
    value = getter(key, None) if getter is not None else None
    return DEFAULTS[key] if value is None else value


def _image_tokens(rng: np.random.Generator, n: int) -> TokenSequence:
    side = int(round(np.sqrt(n)))
    if side * side != n:
        raise ValueError(f"image_patches must be a square number, got {n}")
    seq = seqlib.empty(n)
    seq["modality"][:] = Modality.IMAGE
    seq["patches"][:] = rng.integers(0, 256, (n, PATCH_SIZE, PATCH_SIZE, IMAGE_CHANNELS), np.uint8)
    rows, cols = np.divmod(np.arange(n), side)
    seq["patch_pos"][:] = np.stack([rows, rows + 1, cols, cols + 1], -1).astype(np.float32) / side
    return seq


def _timestep(rng: np.random.Generator, task: int, cfg: dict[str, Any]) -> TokenSequence:
    """One timestep: observation tokens, separator, action tokens (a function of the obs)."""
    image = _image_tokens(rng, cfg["image_patches"])
    cont = rng.integers(0, CONTINUOUS_BINS, cfg["num_continuous"]) + CONTINUOUS_OFFSET
    disc = rng.integers(0, cfg["discrete_range"], cfg["num_discrete"])
    obs = seqlib.concat([
        image,
        seqlib.from_ids(cont, Modality.CONTINUOUS),
        seqlib.from_ids(disc, Modality.DISCRETE),
    ])
    obs["local_pos"][:] = np.arange(seqlib.length(obs))
    sep = seqlib.from_ids(np.array([SEPARATOR_ID]), Modality.SEPARATOR)
    act_disc = (disc + task) % DISCRETE_VOCAB_SIZE
    actions = seqlib.concat([
        seqlib.from_ids(act_disc, Modality.DISCRETE, loss=True, action=True),
        seqlib.from_ids(cont, Modality.CONTINUOUS, loss=True, action=True),
    ])
    return seqlib.concat([obs, sep, actions])


def _text(rng: np.random.Generator, seq_len: int, vocab: int) -> TokenSequence:
    start, stride = rng.integers(0, vocab), rng.integers(1, 8)
    n = int(rng.integers(seq_len // 2, seq_len + 1))
    ids = (start + stride * np.arange(n)) % vocab
    return seqlib.from_ids(ids, Modality.TEXT, loss=True)


def make_row(seed: int, step: int, row: int, seq_len: int, cfg: dict[str, Any]):
    """Returns (TokenSequence of length `seq_len`, task_id) for global row `row` of `step`."""
    rng = np.random.default_rng([seed, step, row])
    if rng.random() < cfg["text_fraction"]:
        return seqlib.pad_to(_text(rng, seq_len, cfg["text_vocab"]), seq_len), 0
    task = int(rng.integers(1, cfg["num_tasks"] + 1))
    parts, n = [], 0
    while n < seq_len:
        parts.append(_timestep(rng, task, cfg))
        n += seqlib.length(parts[-1])
    return seqlib.slice_(seqlib.concat(parts), 0, seq_len), task


def make_batch(cfg: dict[str, Any], *, seed: int, step: int, rows: range, seq_len: int):
    """Stacks rows into a batch: every TokenSequence field [B, L, ...] plus task_id int32 [B]."""
    made = [make_row(seed, step, r, seq_len, cfg) for r in rows]
    batch = {name: np.stack([seq[name] for seq, _ in made]) for name in seqlib.FIELDS}
    batch["task_id"] = np.array([task for _, task in made], np.int32)
    return batch


class SyntheticIterator(Iterator[dict[str, np.ndarray]]):
    """Yields this host's per-step batches; state is {"step": int}."""

    def __init__(self, cfg: dict[str, Any], *, batch_size: int, seq_len: int, seed: int,
                 process_index: int = 0):
        self.cfg, self.batch_size, self.seq_len = cfg, batch_size, seq_len
        self.seed, self.process_index, self.step = seed, process_index, 0

    def __next__(self) -> dict[str, np.ndarray]:
        first = self.process_index * self.batch_size
        batch = make_batch(self.cfg, seed=self.seed, step=self.step, seq_len=self.seq_len,
                           rows=range(first, first + self.batch_size))
        self.step += 1
        return batch

    def get_state(self) -> dict[str, int]:
        return {"step": self.step}

    def set_state(self, state: dict[str, Any]) -> None:
        if "step" not in state:
            raise ValueError(f"synthetic iterator state needs a 'step' key, got {state!r}")
        self.step = int(state["step"])


def make_iterator(data_config: Any, *, batch_size: int, seq_len: int, seed: int,
                  process_index: int = 0, process_count: int = 1) -> SyntheticIterator:
    """The `synthetic` data source (`process_count` is implied by the rows)."""
    del process_count
    cfg = {key: _field(data_config, key) for key in DEFAULTS}
    return SyntheticIterator(cfg, batch_size=batch_size, seq_len=seq_len, seed=seed,
                             process_index=process_index)
