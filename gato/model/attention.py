"""Causal multi-head self-attention, for full sequences and for chunks appended to a KV cache."""

import flax.linen as nn
import jax
import jax.numpy as jnp

from gato.model.config import ModelConfig

KV = tuple[jax.Array, jax.Array]  # keys, values: [B, S, heads, head_dim]


def _dense_general(cfg: ModelConfig, features, axis, names, name: str) -> nn.DenseGeneral:
    return nn.DenseGeneral(
        features=features, axis=axis, use_bias=False, dtype=cfg.dtype,
        param_dtype=cfg.param_dtype, name=name,
        kernel_init=nn.with_logical_partitioning(nn.initializers.lecun_normal(), names))


class Attention(nn.Module):
    """Self-attention over x [B, T, D] -> ([B, T, D], (k, v) of these T tokens).

    Without `past`, attention is causal over the T tokens (optionally restricted to a sliding
    window of `window` tokens, the query included) and uses `config.attention_impl`. With `past`
    (cached keys/values [B, S, H, K]), the T queries attend to [past, new] under `mask`
    [B, 1, T, S + T] (True = attend), built by `gato.model.cache.attention_mask`.
    """

    config: ModelConfig

    @nn.compact
    def __call__(
        self, x: jax.Array, past: KV | None = None, mask: jax.Array | None = None,
        window: int | None = None,
    ) -> tuple[jax.Array, KV]:
        cfg = self.config
        heads = (cfg.num_heads, cfg.head_dim)
        q = _dense_general(cfg, heads, -1, ("embed", "heads", "kv"), "query")(x)
        k = _dense_general(cfg, heads, -1, ("embed", "heads", "kv"), "key")(x)
        v = _dense_general(cfg, heads, -1, ("embed", "heads", "kv"), "value")(x)
        if past is None:
            out = jax.nn.dot_product_attention(
                q, k, v, is_causal=True, implementation=cfg.attention_impl,
                local_window_size=None if window is None else (window - 1, 0))
        else:
            if mask is None:
                raise ValueError("attention over a KV cache needs a mask")
            keys = jnp.concatenate([past[0].astype(k.dtype), k], axis=1)
            values = jnp.concatenate([past[1].astype(v.dtype), v], axis=1)
            out = jax.nn.dot_product_attention(q, keys, values, mask=mask)
        out = _dense_general(cfg, cfg.embed_dim, (-2, -1), ("heads", "kv", "embed"), "out")(out)
        return out, (k, v)
