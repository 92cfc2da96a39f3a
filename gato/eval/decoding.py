"""Choosing action tokens inside a task's action range (pure jax functions).

Decoding modes (`DECODING_MODES`):
  - "sample": draw from the softmax of logits / temperature (Gato, section 2.3);
  - "greedy": the most likely id;
  - "mean": the id nearest the distribution's expected value (softmax of logits / temperature),
    for continuous actions, whose ids are uniform bins of one value range
    (`gato.tokenizers.continuous`): a broad or two-peaked distribution over neighbouring bins
    gives its average, not a draw from its tails. Discrete actions have no order: callers
    sample them instead (`gato.eval.agent.ModelAgent`).

`range_log_probs` gives the model's log-probabilities over one id range at every position, and
`log_probs_in_batches` runs it over token sequences, for teacher-forced scoring of recorded
tokens (action ids, text ids).
"""

from collections.abc import Iterable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

DECODING_MODES = ("sample", "greedy", "mean")


def check_mode(mode: str) -> None:
    if mode not in DECODING_MODES:
        raise ValueError(f"decoding mode {mode!r}; expected one of {DECODING_MODES}")


def expected_index(logits: jax.Array, temperature: jax.Array) -> jax.Array:
    """int32 [B]: the index nearest the mean of softmax(logits [B, n] / temperature) over 0..n-1."""
    probs = jax.nn.softmax(logits.astype(jnp.float32) / temperature, axis=-1)
    mean = probs @ jnp.arange(logits.shape[-1], dtype=jnp.float32)
    return jnp.clip(jnp.round(mean), 0, logits.shape[-1] - 1).astype(jnp.int32)


def mask_to_range(logits: jax.Array, lo: int, hi: int) -> jax.Array:
    """Logits [..., V] with every id outside [lo, hi) set to -inf."""
    ids = jnp.arange(logits.shape[-1])
    allowed = (ids >= lo) & (ids < hi)
    return jnp.where(allowed, logits, -jnp.inf)


def sample_in_range(logits: jax.Array, keys: jax.Array, count: jax.Array,
                    temperature: jax.Array, lo: int, vocab_size: int, mode: str) -> jax.Array:
    """One id in [lo, lo + n) per row from logits [B, n] of exactly those ids; int32 [B].

    Row b draws with key fold_in(keys[b], count) (keys uint32 [B, 2]). The draw is the one
    `jax.random.categorical` makes over the full-vocabulary logits [B, vocab_size] masked to the
    range by `mask_to_range`: the Gumbel noise is drawn for all vocab_size ids and sliced, so an
    agent that projects only the range onto the vocabulary keeps every seed's actions.
    mode: one of DECODING_MODES ("greedy" and "mean" ignore keys and count).
    """
    check_mode(mode)
    n = logits.shape[-1]
    if not 0 <= lo < lo + n <= vocab_size:
        raise ValueError(f"ids [{lo}, {lo + n}) are not inside [0, {vocab_size})")
    logits = logits.astype(jnp.float32)
    if mode == "greedy":
        return (lo + jnp.argmax(logits, axis=-1)).astype(jnp.int32)
    if mode == "mean":
        return lo + expected_index(logits, temperature)

    def row(key: jax.Array, row_logits: jax.Array) -> jax.Array:
        noise = jax.random.gumbel(jax.random.fold_in(key, count), (vocab_size,), jnp.float32)
        return jnp.argmax(noise[lo:lo + n] + row_logits / temperature)

    return (lo + jax.vmap(row)(keys, logits)).astype(jnp.int32)


def range_log_probs(model: Any, lo: int, hi: int):
    """jitted (params, batch) -> float32 [B, L, hi - lo]: log-probabilities over the ids
    [lo, hi) predicted at each position (for the token after it)."""

    @jax.jit
    def fn(params, batch):
        logits = model.apply({"params": params}, batch)[..., lo:hi]
        return jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)

    return fn


def log_probs_in_batches(fn: Any, params: Any, seqs: Iterable[dict[str, np.ndarray]],
                         batch_size: int) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """(fn's log-probabilities, the stacked fields) per batch of `batch_size` sequences of one
    length, in order; fn: a `range_log_probs`. The last batch is filled with repeats of its last
    sequence, so every call has one shape (one compilation), and the repeats are dropped from
    both arrays before they are yielded."""
    from gato.model.gato import MODEL_FIELDS

    def flush(rows: list[dict[str, np.ndarray]]):
        keep = len(rows)
        rows = rows + [rows[-1]] * (batch_size - keep)
        stacked = {k: np.stack([s[k] for s in rows]) for k in rows[0]}
        log_probs = np.asarray(fn(params, {k: jnp.asarray(stacked[k]) for k in MODEL_FIELDS}))
        return log_probs[:keep], {k: v[:keep] for k, v in stacked.items()}

    rows: list[dict[str, np.ndarray]] = []
    for seq in seqs:
        rows.append(seq)
        if len(rows) == batch_size:
            yield flush(rows)
            rows = []
    if rows:
        yield flush(rows)
