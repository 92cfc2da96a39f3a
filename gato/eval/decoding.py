"""Constraining action-token sampling to a task's action range (pure jax functions)."""

import jax
import jax.numpy as jnp


def mask_to_range(logits: jax.Array, lo: int, hi: int) -> jax.Array:
    """Logits [..., V] with every id outside [lo, hi) set to -inf."""
    ids = jnp.arange(logits.shape[-1])
    allowed = (ids >= lo) & (ids < hi)
    return jnp.where(allowed, logits, -jnp.inf)


def sample_in_range(logits: jax.Array, keys: jax.Array, count: jax.Array,
                    temperature: jax.Array, lo: int, vocab_size: int, greedy: bool) -> jax.Array:
    """One id in [lo, lo + n) per row from logits [B, n] of exactly those ids; int32 [B].

    Row b draws with key fold_in(keys[b], count) (keys uint32 [B, 2]). The draw is the one
    `jax.random.categorical` makes over the full-vocabulary logits [B, vocab_size] masked to the
    range by `mask_to_range`: the Gumbel noise is drawn for all vocab_size ids and sliced, so an
    agent that projects only the range onto the vocabulary keeps every seed's actions.
    """
    n = logits.shape[-1]
    if not 0 <= lo < lo + n <= vocab_size:
        raise ValueError(f"ids [{lo}, {lo + n}) are not inside [0, {vocab_size})")
    logits = logits.astype(jnp.float32)
    if greedy:
        return (lo + jnp.argmax(logits, axis=-1)).astype(jnp.int32)

    def row(key: jax.Array, row_logits: jax.Array) -> jax.Array:
        noise = jax.random.gumbel(jax.random.fold_in(key, count), (vocab_size,), jnp.float32)
        return jnp.argmax(noise[lo:lo + n] + row_logits / temperature)

    return (lo + jax.vmap(row)(keys, logits)).astype(jnp.int32)
