"""Choosing action tokens inside a task's action range (pure jax functions).

Decoding modes (`DECODING_MODES`):
  - "sample": draw from the softmax of logits / temperature (Gato, section 2.3);
  - "greedy": the most likely id;
  - "mean": the id nearest the distribution's expected value (softmax of logits / temperature),
    for continuous actions, whose ids are uniform bins of one value range
    (`gato.tokenizers.continuous`): a broad or two-peaked distribution over neighbouring bins
    gives its average, not a draw from its tails. Discrete actions have no order: callers
    sample them instead (`gato.eval.agent.ModelAgent`).
"""

import jax
import jax.numpy as jnp

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
