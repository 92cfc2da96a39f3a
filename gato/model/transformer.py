"""The decoder stack: pre-LayerNorm blocks (attention + GELU MLP), optionally scanned and remat'ed.

With `scan_layers` the blocks are one `nn.scan` (parameters carry a leading "layers" axis of size
num_layers); otherwise they are `layers_0 ... layers_{n-1}`. `stack_layer_params` and
`unstack_layer_params` convert between the two layouts.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from gato.model.attention import KV, Attention
from gato.model.cache import ChunkPlan
from gato.model.config import ModelConfig

LayerKVs = tuple[tuple[jax.Array, ...], tuple[jax.Array, ...]]  # per-layer (keys, values)


def _norm(cfg: ModelConfig, name: str) -> nn.LayerNorm:
    return nn.LayerNorm(
        dtype=cfg.dtype, param_dtype=cfg.param_dtype, name=name,
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
