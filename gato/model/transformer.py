"""The decoder stack: pre-LayerNorm blocks (attention + GELU MLP), optionally scanned and remat'ed.

With `scan_layers` the blocks are one `nn.scan` (parameters carry a leading "layers" axis of size
num_layers); otherwise they are `layers_0 ... layers_{n-1}`. `stack_layer_params` and
`unstack_layer_params` convert between the two layouts.

`decode_stack` runs the same blocks for KV-cached decoding as pure functions over a third layout,
made once per model by `decoding_stack_params` (checkpoints keep theirs): one entry per layer (XLA
copies a slice of a stacked array before a matmul reads it), q/k/v fused into one kernel, kernels
transposed to [out, in] (XLA's CPU matmuls at batch 1 read that orientation ~20% faster). The last
layer computes queries, attention and MLP for the last token only (the others need only its keys
and values).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from gato.model.attention import KV, Attention, cached_attention
from gato.model.cache import ChunkPlan
from gato.model.config import ModelConfig

LayerKVs = tuple[tuple[jax.Array, ...], tuple[jax.Array, ...]]  # per-layer (keys, values)


def _norm(cfg: ModelConfig, name: str | None, **kwargs) -> nn.LayerNorm:
    return nn.LayerNorm(
        dtype=cfg.dtype, param_dtype=cfg.param_dtype, name=name, **kwargs,
        scale_init=nn.with_logical_partitioning(nn.initializers.ones, ("embed",)),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("embed",)))


def _dense(cfg: ModelConfig, features: int, names: tuple[str, str], name: str) -> nn.Dense:
    return nn.Dense(
        features, dtype=cfg.dtype, param_dtype=cfg.param_dtype, name=name,
        kernel_init=nn.with_logical_partitioning(nn.initializers.lecun_normal(), names),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, (names[1],)))


class Block(nn.Module):
    """x + Attn(LN(x)), then x + MLP(LN(x)); dropout on both branches unless deterministic.

    Call (x [B,T,D], past KV or None, plan or None) -> (x, the layer's updated cache buffers, or
    None when there is no cache: training does not keep per-layer keys and values).
    """

    config: ModelConfig
    deterministic: bool = True
    window: int | None = None

    @nn.compact
    def __call__(
        self, x: jax.Array, past: KV | None, plan: ChunkPlan | None
    ) -> tuple[jax.Array, KV | None]:
        cfg = self.config
        drop = nn.Dropout(cfg.dropout_rate, deterministic=self.deterministic)
        h, kv = Attention(cfg, name="attention")(_norm(cfg, "attention_norm")(x), past, plan,
                                                 self.window)
        x = x + drop(h)
        h = _dense(cfg, cfg.mlp_dim, ("embed", "mlp"), "mlp_in")(_norm(cfg, "mlp_norm")(x))
        h = _dense(cfg, cfg.embed_dim, ("mlp", "embed"), "mlp_out")(nn.gelu(h))
        x = nn.with_logical_constraint(x + drop(h), ("batch", "length", "embed"))
        return x, (kv if past is not None else None)


def _block_class(cfg: ModelConfig) -> type[nn.Module]:
    if cfg.remat is False:
        return Block
    policy = None if cfg.remat is True else getattr(jax.checkpoint_policies, cfg.remat)
    return nn.remat(Block, policy=policy, prevent_cse=not cfg.scan_layers)


class Decoder(nn.Module):
    """Blocks and the final LayerNorm: x [B,T,D] -> (x, the updated cache buffers or None).

    `past` is a KV cache's (keys, values), per layer one buffer each (`gato.model.cache`), and
    `plan` its `plan_chunk` for these T tokens; returns the buffers with the tokens written. The
    scanned layout stacks the buffers for `nn.scan` (copies); decoding is fastest with per-layer
    parameters (`scan_layers=False`, see `gato.model.gato.decoding_params`), which read each
    layer's weights and buffers as they lie.
    """

    config: ModelConfig

    @nn.compact
    def __call__(
        self, x: jax.Array, past: LayerKVs | None = None, plan: ChunkPlan | None = None,
        deterministic: bool = True, window: int | None = None,
    ) -> tuple[jax.Array, LayerKVs | None]:
        cfg = self.config
        block = _block_class(cfg)
        if past is not None and len(past[0]) != cfg.num_layers:
            raise ValueError(f"cache has {len(past[0])} layers, the model {cfg.num_layers}")
        if cfg.scan_layers:
            scanned = nn.scan(
                block, variable_axes={"params": 0}, split_rngs={"params": True, "dropout": True},
                in_axes=(0, nn.broadcast), length=cfg.num_layers,
                metadata_params={nn.PARTITION_NAME: "layers"})
            stacked = None if past is None else (jnp.stack(past[0]), jnp.stack(past[1]))
            x, kvs = scanned(cfg, deterministic, window, name="layers")(x, stacked, plan)
            if kvs is not None:
                kvs = tuple(tuple(a[i] for i in range(cfg.num_layers)) for a in kvs)
        else:
            outs = []
            for i in range(cfg.num_layers):
                layer_past = None if past is None else (past[0][i], past[1][i])
                x, kv = block(cfg, deterministic, window, name=f"layers_{i}")(x, layer_past, plan)
                outs.append(kv)
            kvs = None if past is None else (tuple(k for k, _ in outs), tuple(v for _, v in outs))
        return _norm(cfg, "final_norm")(x), kvs


def unstack_layer_params(decoder_params: dict, num_layers: int) -> dict:
    """Scanned decoder params ({"layers": ...}) -> per-layer ({"layers_0": ..., ...})."""
    out = {k: v for k, v in decoder_params.items() if k != "layers"}
    for i in range(num_layers):
        out[f"layers_{i}"] = jax.tree.map(lambda a, i=i: a[i], decoder_params["layers"])
    return out


def stack_layer_params(decoder_params: dict, num_layers: int) -> dict:
    """Per-layer decoder params -> the scanned layout (inverse of `unstack_layer_params`)."""
    out = {k: v for k, v in decoder_params.items() if not k.startswith("layers_")}
    layers = [decoder_params[f"layers_{i}"] for i in range(num_layers)]
    out["layers"] = jax.tree.map(lambda *a: jnp.stack(a), *layers)
    return out


def decoding_block_params(layer: dict) -> dict:
    """One Block's params -> the `decode_block` layout: qkv [3 * H * K, D], out [D, H * K],
    mlp_in [F, D], mlp_out [D, F] (each kernel transposed to [out, in]), biases and norms as is."""
    att = layer["attention"]
    d = att["query"]["kernel"].shape[0]
    qkv = jnp.concatenate([att[n]["kernel"].reshape(d, -1) for n in ("query", "key", "value")],
                          axis=1)
    return {"attention_norm": layer["attention_norm"], "mlp_norm": layer["mlp_norm"],
            "qkv": qkv.T, "out": att["out"]["kernel"].reshape(-1, d).T,
            "mlp_in": layer["mlp_in"]["kernel"].T, "mlp_in_bias": layer["mlp_in"]["bias"],
            "mlp_out": layer["mlp_out"]["kernel"].T, "mlp_out_bias": layer["mlp_out"]["bias"]}


def decoding_stack_params(decoder_params: dict, num_layers: int) -> dict:
    """Decoder params (scanned or per-layer) -> {"blocks": one `decoding_block_params` per layer,
    "final_norm": ...}, the input of `decode_stack`."""
    if "layers" in decoder_params:
        decoder_params = unstack_layer_params(decoder_params, num_layers)
    missing = [f"layers_{i}" for i in range(num_layers) if f"layers_{i}" not in decoder_params]
    if missing:
        raise ValueError(f"decoder params lack {missing}; they have {sorted(decoder_params)}")
    blocks = tuple(decoding_block_params(decoder_params[f"layers_{i}"]) for i in range(num_layers))
    return {"blocks": blocks, "final_norm": decoder_params["final_norm"]}


def _linear(cfg: ModelConfig, x: jax.Array, kernel: jax.Array, bias: jax.Array | None = None
            ) -> jax.Array:
    """x [..., in] times a kernel stored [out, in] (+ bias [out]), in config.dtype."""
    y = lax.dot_general(x.astype(cfg.dtype), kernel.astype(cfg.dtype),
                        (((x.ndim - 1,), (1,)), ((), ())))
    return y if bias is None else y + bias.astype(cfg.dtype)


def _apply_norm(cfg: ModelConfig, params: dict, x: jax.Array) -> jax.Array:
    """The blocks' LayerNorm (unbound, so callable inside another module's method)."""
    return _norm(cfg, None, parent=None).apply({"params": params}, x)


def decode_block(cfg: ModelConfig, p: dict, x: jax.Array, past: KV, plan: ChunkPlan,
                 last_only: bool = False) -> tuple[jax.Array, KV]:
    """`Block` in eval mode over a KV cache, on `decoding_block_params` p: x [B, T, D] ->
    (x [B, T, D], or [B, 1, D] of the last token if last_only; the updated buffers)."""
    b, t, _ = x.shape
    qkv = _linear(cfg, _apply_norm(cfg, p["attention_norm"], x), p["qkv"])
    qkv = qkv.reshape(b, t, 3, cfg.num_heads, cfg.head_dim)
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    if last_only:
        q, x = q[:, -1:], x[:, -1:]
    out, kv = cached_attention(q, k, v, past, plan, cfg.position_bias == "alibi")
    x = x + _linear(cfg, out.reshape(*out.shape[:2], -1), p["out"])
    h = _linear(cfg, _apply_norm(cfg, p["mlp_norm"], x), p["mlp_in"], p["mlp_in_bias"])
    return x + _linear(cfg, nn.gelu(h), p["mlp_out"], p["mlp_out_bias"]), kv


def decode_stack(cfg: ModelConfig, params: dict, x: jax.Array, past: LayerKVs, plan: ChunkPlan
                 ) -> tuple[jax.Array, LayerKVs]:
    """`Decoder` in eval mode over a KV cache, on `decoding_stack_params`: embedded chunk
    x [B, T, D] -> (final-normed hidden state of the last token [B, D], updated buffers)."""
    n = len(params["blocks"])
    if len(past[0]) != n:
        raise ValueError(f"cache has {len(past[0])} layers, the decoding params {n}")
    keys, values = [], []
    for i, p in enumerate(params["blocks"]):
        x, (k, v) = decode_block(cfg, p, x, (past[0][i], past[1][i]), plan, last_only=i == n - 1)
        keys.append(k)
        values.append(v)
    return _apply_norm(cfg, params["final_norm"], x[:, -1]), (tuple(keys), tuple(values))
