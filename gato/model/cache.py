"""Ring-buffer KV cache for autoregressive decoding (pure functions over a NamedTuple).

A cache holds, per layer, `slots` = cache_len + CHUNK_SLACK key/value slots and, per batch row, the
count of tokens written so far. Token number p (0-based, counted per row) lives in slot p % slots
until overwritten by token p + slots. A query at position p attends to the tokens in
(p - cache_len, p]: a sliding window of cache_len tokens, itself included. Because the model has
no absolute position encoding this is exactly `Gato.__call__(..., window=cache_len)`, and exactly
the plain forward pass while fewer than cache_len tokens have been written. (With more than one
layer it is not the same as a fresh forward pass over only the last cache_len tokens: cached keys
of older tokens were computed while those tokens could still see further back, as in any
sliding-window transformer.)

Appending a chunk of T tokens (`plan_chunk`):
  - T <= CHUNK_SLACK + 1 (decoding: action tokens, one observation): the new keys/values are
    written into the buffers first, then the queries attend over the buffers alone. The slack
    slots keep every token a query of the chunk may see, so this is exact; and XLA updates the
    buffers in place (donate the cache to the jitted step): no copy of the cache per call.
  - longer chunks (prompts): the queries attend over [buffers before the write, new tokens], then
    the chunk is written (exact for any T <= cache_len; XLA copies the buffers once per call).

Layout, chosen for decoding speed on CPU (every choice removes a copy XLA would otherwise make on
each call): one buffer per layer, a tuple (a slice of a stacked array is copied before a matmul
reads it); batch and heads merged into one leading axis of B * H rows (row b * H + h), so the
attention matmuls have one batch dimension; keys [B * H, head_dim, slots] and values
[B * H, slots, head_dim], the operand layouts of the two matmuls (no transposes).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from gato.model.config import ModelConfig

CHUNK_SLACK = 63  # extra slots: chunks of up to 64 tokens are written before they are attended


class KVCache(NamedTuple):
    """Per layer (tuples of num_layers arrays, config.dtype): keys [B * H, head_dim, slots],
    values [B * H, slots, head_dim]; count: int32 [B], tokens written per row (may exceed slots).
    slots = cache_len + CHUNK_SLACK."""

    keys: tuple[jax.Array, ...]
    values: tuple[jax.Array, ...]
    count: jax.Array

    @property
    def slots(self) -> int:
        return int(self.values[0].shape[1])

    @property
    def cache_len(self) -> int:
        """The attention window in tokens."""
        return self.slots - CHUNK_SLACK


class ChunkPlan(NamedTuple):
    """How a chunk of T tokens is appended: mask [B, 1, T, slots] when the chunk is written first,
    [B, 1, T, slots + T] over [buffers before the write, new tokens] otherwise (True = attend);
    distance: int32, same shape, query position - key position (for position biases; meaningless
    where the mask is False); slots: int32 [B, T], where the new tokens are written."""

    mask: jax.Array
    distance: jax.Array
    slots: jax.Array

    def write_first(self, num_slots: int) -> bool:
        return self.mask.shape[-1] == num_slots


def init_cache(config: ModelConfig, batch_size: int, cache_len: int) -> KVCache:
    """An empty cache for `batch_size` rows and a window of `cache_len` tokens (fresh buffers)."""
    if batch_size <= 0 or cache_len <= 0:
        raise ValueError(f"batch_size, cache_len must be positive: {batch_size}, {cache_len}")
    rows, slots = batch_size * config.num_heads, cache_len + CHUNK_SLACK

    def buffers(shape: tuple[int, ...]) -> tuple[jax.Array, ...]:
        return tuple(jnp.zeros(shape, config.dtype) for _ in range(config.num_layers))

    return KVCache(buffers((rows, config.head_dim, slots)), buffers((rows, slots, config.head_dim)),
                   jnp.zeros((batch_size,), jnp.int32))


def reset_rows(cache: KVCache, done: jax.Array) -> KVCache:
    """Empties the rows where `done` [B] bool is True (e.g. a new episode starts in that env)."""
    return cache._replace(count=jnp.where(done, 0, cache.count))


def slot_positions(count: jax.Array, slots: int) -> jax.Array:
    """Position of the token held in each of `slots` ring slots [B, slots]; -1 for empty slots."""
    index = jnp.arange(slots)[None, :]
    n = count[:, None]
    return jnp.where(index < n, index + slots * ((n - 1 - index) // slots), -1)


def _window_mask(queries: jax.Array, keys: jax.Array, window: int) -> jax.Array:
    """queries [B, T], key positions [B, S] (-1 empty) -> [B, 1, T, S]: causal, within window."""
    q, k = queries[:, :, None], keys[:, None, :]
    return ((k >= 0) & (k <= q) & (k > q - window))[:, None]


def attention_mask(count: jax.Array, slots: int, chunk_len: int, window: int | None = None
                   ) -> jax.Array:
    """Mask [B, 1, T, slots + T] for T new queries over [cached slots, new tokens] (before the
    chunk is written); window defaults to `slots`."""
    queries = count[:, None] + jnp.arange(chunk_len)[None, :]
    keys = jnp.concatenate([slot_positions(count, slots), queries], axis=1)
    return _window_mask(queries, keys, slots if window is None else window)


def plan_chunk(cache: KVCache, chunk_len: int) -> ChunkPlan:
    """The mask and write slots of appending `chunk_len` tokens (see the module docstring)."""
    if chunk_len > cache.cache_len:
        raise ValueError(f"chunk of {chunk_len} tokens exceeds cache_len {cache.cache_len}")
    count, slots = cache.count, cache.slots
    queries = count[:, None] + jnp.arange(chunk_len)[None, :]
    if chunk_len <= CHUNK_SLACK + 1:
        keys = slot_positions(count + chunk_len, slots)
    else:
        keys = jnp.concatenate([slot_positions(count, slots), queries], axis=1)
    mask = _window_mask(queries, keys, cache.cache_len)
    distance = (queries[:, :, None] - keys[:, None, :])[:, None]
    return ChunkPlan(mask, distance, queries % slots)


def write(keys: jax.Array, values: jax.Array, k: jax.Array, v: jax.Array, slots: jax.Array
          ) -> tuple[jax.Array, jax.Array]:
    """One layer's buffers (see KVCache) with k, v [B, T, H, K] written at slots int32 [B, T].

    A scatter promised in bounds and unique: XLA does it in place when the buffers are donated.
    """
    b, t, h, d = k.shape
    rows = jnp.arange(b * h)[:, None]
    row_slots = jnp.repeat(slots, h, axis=0)  # [B * H, T]

    def merged(a: jax.Array) -> jax.Array:  # [B, T, H, K] -> [B * H, T, K]
        return jnp.swapaxes(a, 1, 2).reshape(b * h, t, d)

    opts = dict(mode="promise_in_bounds", unique_indices=True)
    # advanced indices on axes 0 and 2 of keys put (B * H, T) first: the update is [B * H, T, K]
    keys = keys.at[rows, :, row_slots].set(merged(k).astype(keys.dtype), **opts)
    values = values.at[rows, row_slots].set(merged(v).astype(values.dtype), **opts)
    return keys, values
