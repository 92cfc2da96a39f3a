"""Ring-buffer KV cache for autoregressive decoding (pure functions over a NamedTuple).

A cache holds `cache_len` slots per layer and, per batch row, the count of tokens written so far.
Token number p (0-based, counted per row) lives in slot p % cache_len until overwritten by token
p + cache_len. A query at position p attends to the tokens in (p - cache_len, p]: a sliding window
of cache_len tokens, itself included. Because the model has no absolute position encoding this is
exactly `Gato.__call__(..., window=cache_len)`, and exactly the plain forward pass while fewer
than cache_len tokens have been written. (With more than one layer it is not the same as a fresh
forward pass over only the last cache_len tokens: cached keys of older tokens were computed while
those tokens could still see further back, as in any sliding-window transformer.)
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from gato.model.config import ModelConfig


class KVCache(NamedTuple):
    """keys, values: [num_layers, B, cache_len, num_heads, head_dim] (config.dtype);
    count: int32 [B], tokens written per row (may exceed cache_len)."""

    keys: jax.Array
    values: jax.Array
    count: jax.Array

    @property
    def cache_len(self) -> int:
        return int(self.keys.shape[2])


def init_cache(config: ModelConfig, batch_size: int, cache_len: int) -> KVCache:
    """An empty cache for `batch_size` rows and a window of `cache_len` tokens."""
    if batch_size <= 0 or cache_len <= 0:
        raise ValueError(f"batch_size, cache_len must be positive: {batch_size}, {cache_len}")
    shape = (config.num_layers, batch_size, cache_len, config.num_heads, config.head_dim)
    zeros = jnp.zeros(shape, config.dtype)
    return KVCache(zeros, zeros, jnp.zeros((batch_size,), jnp.int32))


def reset_rows(cache: KVCache, done: jax.Array) -> KVCache:
    """Empties the rows where `done` [B] bool is True (e.g. a new episode starts in that env)."""
    return cache._replace(count=jnp.where(done, 0, cache.count))


def slot_positions(count: jax.Array, cache_len: int) -> jax.Array:
    """Position of the token held in each slot [B, cache_len]; -1 for empty slots."""
    slots = jnp.arange(cache_len)[None, :]
    n = count[:, None]
    return jnp.where(slots < n, slots + cache_len * ((n - 1 - slots) // cache_len), -1)


def attention_mask(count: jax.Array, cache_len: int, chunk_len: int) -> jax.Array:
    """Mask [B, 1, T, cache_len + T] for T new queries over [cached slots, new tokens]."""
    queries = count[:, None] + jnp.arange(chunk_len)[None, :]
    keys = jnp.concatenate([slot_positions(count, cache_len), queries], axis=1)
    q, k = queries[:, :, None], keys[:, None, :]
    return ((k >= 0) & (k <= q) & (k > q - cache_len))[:, None]


def write(cache: KVCache, keys: jax.Array, values: jax.Array) -> KVCache:
    """Appends T tokens' keys/values [num_layers, B, T, H, K] at slots (count + t) % cache_len."""
    chunk_len = keys.shape[2]
    if chunk_len > cache.cache_len:
        raise ValueError(f"chunk of {chunk_len} tokens exceeds cache_len {cache.cache_len}")
    rows = jnp.arange(keys.shape[1])[:, None]
    slots = (cache.count[:, None] + jnp.arange(chunk_len)[None, :]) % cache.cache_len
    return KVCache(
        cache.keys.at[:, rows, slots].set(keys.astype(cache.keys.dtype)),
        cache.values.at[:, rows, slots].set(values.astype(cache.values.dtype)),
        cache.count + chunk_len,
    )
