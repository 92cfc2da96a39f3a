"""Causal multi-head self-attention, for full sequences and for chunks appended to a KV cache."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gato.model.cache import ChunkPlan, write
from gato.model.config import ModelConfig

KV = tuple[jax.Array, jax.Array]  # keys, values of one layer


def alibi_slopes(num_heads: int) -> jax.Array:
    """ALiBi slopes float32 [H]: 2^(-8 h / H) for h = 1..H (Press et al. 2022), steep (local)
    to shallow (almost global)."""
    return 2.0 ** (-8.0 * jnp.arange(1, num_heads + 1, dtype=jnp.float32) / num_heads)


def alibi_bias(distance: jax.Array, num_heads: int) -> jax.Array:
    """-slope_h * distance: [B, 1, T, S] query-minus-key positions -> float32 [B, H, T, S]."""
    return -alibi_slopes(num_heads)[None, :, None, None] * distance.astype(jnp.float32)


def _dense_general(cfg: ModelConfig, features, axis, names, name: str) -> nn.DenseGeneral:
    return nn.DenseGeneral(
        features=features, axis=axis, use_bias=False, dtype=cfg.dtype,
        param_dtype=cfg.param_dtype, name=name,
        kernel_init=nn.with_logical_partitioning(nn.initializers.lecun_normal(), names))


def blocked_causal_attention(q: jax.Array, k: jax.Array, v: jax.Array, blocks: int,
                             alibi: bool = False, window: int | None = None) -> jax.Array:
    """Causal self-attention [B, T, H, K] -> [B, T, H, K] in `blocks` query blocks.

    Query block i (positions [a, b)) attends only to keys [0, b): the score blocks above the
    diagonal, (blocks - 1) / (2 blocks) of all scores, are never computed, and the causal and
    window masks and the ALiBi bias are made from positions inside each block's fused ops
    instead of broadcast [B, H, T, S] arrays. Same math as `jax.nn.dot_product_attention`
    (is_causal, local_window_size=(window - 1, 0)) and `cached_attention`: float32 scores
    scaled by 1/sqrt(K), ALiBi bias, masked with a large negative number, float32 softmax. A
    speed path for XLA:CPU (docs/EXPERIMENTS.md: what it buys); on GPUs use attention_impl.
    """
    t, d = q.shape[1], q.shape[3]
    edges = np.linspace(0, t, min(blocks, t) + 1).round().astype(int)
    slopes = alibi_slopes(q.shape[2])[:, None, None]  # [H, 1, 1]
    outs = []
    for start, end in zip(edges[:-1], edges[1:], strict=True):
        scores = jnp.einsum("bthk,bshk->bhts", q[:, start:end], k[:, :end],
                            preferred_element_type=jnp.float32)
        scores = scores * jnp.float32(1.0 / np.sqrt(d))
        distance = (jnp.arange(start, end)[:, None] - jnp.arange(end)[None, :])  # [Tb, S]
        if alibi:
            scores = scores - slopes * distance.astype(jnp.float32)
        keep = distance >= 0
        if window is not None:
            keep = keep & (distance < window)
        scores = jnp.where(keep, scores, -0.7 * jnp.finfo(jnp.float32).max)
        probs = jax.nn.softmax(scores, axis=-1).astype(v.dtype)
        outs.append(jnp.einsum("bhts,bshk->bthk", probs, v[:, :end]))
    return jnp.concatenate(outs, axis=1)


def cached_attention(q: jax.Array, k: jax.Array, v: jax.Array, past: KV, plan: ChunkPlan,
                     alibi: bool = False) -> tuple[jax.Array, KV]:
    """New queries over one layer's cache -> ([B, Tq, H, K], the buffers with k, v written).

    k, v: [B, T, H, K] of the T new tokens; q: [B, Tq, H, K], the queries of the last Tq <= T of
    them (Tq = 1 where only the last token's output is needed); past: the layer's buffers (layout
    in `gato.model.cache`); plan: `gato.model.cache.plan_chunk` of the T tokens. Short chunks
    attend over the buffers after the write; long ones over [buffers before it, new tokens] (one
    softmax over both parts, nothing concatenated but the scores). Same math as
    `jax.nn.dot_product_attention`: float32 scores scaled by 1/sqrt(K), masked with a large
    negative number, float32 softmax. `alibi` adds `alibi_bias` of the plan's distances to the
    scaled scores, as `Attention` does in the full pass.
    """
    b, tq, h, d = q.shape
    first = plan.write_first(past[1].shape[1])
    keys, values = write(*past, k, v, plan.slots)
    read_keys, read_values = (keys, values) if first else past

    def merged(a: jax.Array) -> jax.Array:  # [B, T, H, K] -> [B * H, T, K]
        return jnp.swapaxes(a, 1, 2).reshape(b * h, a.shape[1], d)

    qm = merged(q)
    scores = jnp.einsum("ntk,nks->nts", qm, read_keys.astype(q.dtype),
                        preferred_element_type=jnp.float32)
    if not first:
        new = jnp.einsum("ntk,nsk->nts", qm, merged(k), preferred_element_type=jnp.float32)
        scores = jnp.concatenate([scores, new], axis=-1)
    mask = plan.mask[:, :, plan.mask.shape[2] - tq:]
    mask = jnp.broadcast_to(mask, (b, h, *mask.shape[2:])).reshape(scores.shape)
    scores = scores * jnp.float32(1.0 / np.sqrt(d))
    if alibi:
        distance = plan.distance[:, :, plan.distance.shape[2] - tq:]
        scores = scores + alibi_bias(distance, h).reshape(scores.shape)
    scores = jnp.where(mask, scores, -0.7 * jnp.finfo(jnp.float32).max)
    probs = jax.nn.softmax(scores, axis=-1).astype(v.dtype)
    slots = read_values.shape[1]
    out = jnp.einsum("nts,nsk->ntk", probs[..., :slots], read_values.astype(v.dtype))
    if not first:
        out = out + jnp.einsum("nts,nsk->ntk", probs[..., slots:], merged(v))
    return jnp.swapaxes(out.reshape(b, h, tq, d), 1, 2), (keys, values)


class Attention(nn.Module):
    """Self-attention over x [B, T, D] -> ([B, T, D], KV).

    Without `past`, attention is causal over the T tokens (optionally restricted to a sliding
    window of `window` tokens, the query included; plus the ALiBi bias if config.position_bias is
    "alibi"), uses `config.attention_impl` and returns the
    T tokens' (k, v) [B, T, H, K]. With `past` (one layer's cache buffers) and `plan`
    (`gato.model.cache.plan_chunk`), the T tokens are appended to the cache and attend over it
    (`cached_attention`); returns the updated buffers.
    """

    config: ModelConfig

    @nn.compact
    def __call__(
        self, x: jax.Array, past: KV | None = None, plan: ChunkPlan | None = None,
        window: int | None = None,
    ) -> tuple[jax.Array, KV]:
        cfg = self.config
        heads = (cfg.num_heads, cfg.head_dim)
        q = _dense_general(cfg, heads, -1, ("embed", "heads", "kv"), "query")(x)
        k = _dense_general(cfg, heads, -1, ("embed", "heads", "kv"), "key")(x)
        v = _dense_general(cfg, heads, -1, ("embed", "heads", "kv"), "value")(x)
        if past is None:
            if cfg.attention_blocks > 1:
                out = blocked_causal_attention(q, k, v, cfg.attention_blocks,
                                               cfg.position_bias == "alibi", window)
            else:
                bias = None
                if cfg.position_bias == "alibi":
                    positions = jnp.arange(x.shape[1])
                    distance = (positions[:, None] - positions[None, :])[None, None]
                    bias = alibi_bias(distance, cfg.num_heads).astype(q.dtype)
                out = jax.nn.dot_product_attention(
                    q, k, v, bias=bias, is_causal=True, implementation=cfg.attention_impl,
                    local_window_size=None if window is None else (window - 1, 0))
            kv = (k, v)
        else:
            if plan is None:
                raise ValueError("attention over a KV cache needs a ChunkPlan (plan_chunk)")
            out, kv = cached_attention(q, k, v, past, plan, cfg.position_bias == "alibi")
        out = _dense_general(cfg, cfg.embed_dim, (-2, -1), ("heads", "kv", "embed"), "out")(out)
        return out, kv
