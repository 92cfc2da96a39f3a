"""Action-token sampling constrained to a task's action range (pure jax functions)."""

import jax
import jax.numpy as jnp


def mask_to_range(logits: jax.Array, lo: int, hi: int) -> jax.Array:
    """Logits [..., V] with every id outside [lo, hi) set to -inf."""
    ids = jnp.arange(logits.shape[-1])
    allowed = (ids >= lo) & (ids < hi)
    return jnp.where(allowed, logits, -jnp.inf)


def sample_in_range(logits: jax.Array, rng: jax.Array, lo: int, hi: int,
                    temperature: float, greedy: bool) -> jax.Array:
    """One token id per row of `logits` [B, V], always in [lo, hi).

    Greedy takes the argmax of the masked logits; otherwise samples from softmax(logits / T).
    Returns int32 [B].
    """
    masked = mask_to_range(logits.astype(jnp.float32), lo, hi)
    if greedy:
        return jnp.argmax(masked, axis=-1).astype(jnp.int32)
    return jax.random.categorical(rng, masked / temperature, axis=-1).astype(jnp.int32)
