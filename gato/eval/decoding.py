"""Constraining action-token logits to a task's action range (a pure jax function)."""

import jax
import jax.numpy as jnp


def mask_to_range(logits: jax.Array, lo: int, hi: int) -> jax.Array:
    """Logits [..., V] with every id outside [lo, hi) set to -inf."""
    ids = jnp.arange(logits.shape[-1])
    allowed = (ids >= lo) & (ids < hi)
    return jnp.where(allowed, logits, -jnp.inf)

