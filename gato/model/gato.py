"""The Gato model: token embedding, decoder-only transformer, tied output layer.

    model = Gato(config)
    variables = model.init({"params": rng, "patch_pos": rng}, batch, train=False)
    logits = model.apply({"params": params}, batch, train=True,
                         rngs={"patch_pos": rng, "dropout": rng})        # [B, L, vocab] float32

    cache = init_cache(config, batch_size, cache_len)                    # or method=Gato.init_cache
    logits, cache = model.apply({"params": params}, chunk, cache, method=Gato.extend)
    logits, cache = model.apply({"params": params}, chunk, cache, lo, hi,
                                method=Gato.extend_last)                 # [B, hi - lo] at the end
    logits, cache = model.apply({"params": decoding_params(config, params)}, chunk, cache, lo,
                                hi, method=Gato.decode_last)             # the same, faster
    logits = model.apply({"params": params}, batch, train=True, rngs=...,
                         method=Gato.target_logits)            # [S, K, vocab] at target_index
    text, action = model.apply(..., method=Gato.split_target_logits)  # + [S, A, 2048] actions

`batch` holds the TokenSequence fields with a leading batch axis (tokens, modality, is_action,
local_pos, patches, patch_pos; loss_mask and task_id are ignored by the model). Parameters are
created boxed in `nn.Partitioned` with logical axis names (see DEFAULT_LOGICAL_AXIS_RULES); apply
accepts them boxed or unboxed (`flax.linen.meta.unbox`).

There is no absolute position encoding (Gato, section 2.2): order is seen through the causal mask
and the local observation encodings. Hence the ring-buffer cache implements a sliding window
exactly; `window=` gives the same sliding window in the full forward pass.

Fast decoding: `decode_last` on `decoding_params(config, params)` (the decoder weights re-laid
out once, outside jit, when an agent is built; checkpoints keep the training layout) runs the
blocks as pure functions (`gato.model.transformer.decode_stack`) and, like `extend_last`,
projects only the last position onto only the rows [lo, hi) the caller samples from.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from gato.model.cache import KVCache, plan_chunk
from gato.model.cache import init_cache as _init_cache
from gato.model.config import ModelConfig
from gato.model.embed import TokenEmbed
from gato.model.loss import gather_positions, range_columns
from gato.model.transformer import Decoder, decode_stack, decoding_stack_params

MODEL_FIELDS = ("tokens", "modality", "is_action", "local_pos", "patches", "patch_pos")


def check_batch(batch: dict[str, jax.Array]) -> None:
    """Raises ValueError naming a missing field or a field whose leading [B, L] shape differs."""
    missing = [k for k in MODEL_FIELDS if k not in batch]
    if missing:
        raise ValueError(f"batch is missing fields {missing}; it has {sorted(batch)}")
    lead = batch["tokens"].shape
    if len(lead) != 2:
        raise ValueError(f"batch['tokens'] must be [B, L], got shape {lead}")
    for k in MODEL_FIELDS:
        if batch[k].shape[:2] != lead:
            raise ValueError(f"batch[{k!r}] has shape {batch[k].shape}; expected leading {lead}")


class Gato(nn.Module):
    """Gato generalist agent model; see the module docstring for the call conventions."""

    config: ModelConfig

    def setup(self):
        self.embed = TokenEmbed(self.config)
        self.decoder = Decoder(self.config)
        self.embed_dropout = nn.Dropout(self.config.dropout_rate)

    def __call__(
        self, batch: dict[str, jax.Array], train: bool = False, window: int | None = None
    ) -> jax.Array:
        """Logits [B, L, vocab_size] float32; logits[:, i] predict tokens[:, i + 1].

        train: sample patch positions (rng "patch_pos") and apply dropout (rng "dropout").
        window: if set, each token attends only to the last `window` tokens (itself included).
        """
        return self.logits_from_hidden(self.hidden(batch, train, window))

    def hidden(
        self, batch: dict[str, jax.Array], train: bool = False, window: int | None = None
    ) -> jax.Array:
        """Final-normed hidden states [B, L, D] (the input of the tied output layer)."""
        check_batch(batch)
        x = self.embed_dropout(self.embed(batch, train), deterministic=not train)
        x = nn.with_logical_constraint(x, ("batch", "length", "embed"))
        x, _ = self.decoder(x, deterministic=not train, window=window)
        return x

    def logits_from_hidden(self, x: jax.Array) -> jax.Array:
        """Tied output layer: hidden [..., D] -> float32 logits [..., vocab_size]."""
        return self.embed.attend(x)

    def target_logits(
        self, batch: dict[str, jax.Array], train: bool = False
    ) -> jax.Array:
        """Logits [S, K, vocab_size] only at batch["target_index"] int32 [S, K] positions.

        Equals `__call__`'s logits gathered with `gato.model.loss.gather_positions`, without
        projecting the other positions onto the vocabulary (see `targets_only_loss`).
        """
        if "target_index" not in batch:
            raise ValueError("target_logits needs batch['target_index'] int32 [S, K]")
        x = gather_positions(self.hidden(batch, train), batch["target_index"])
        return self.logits_from_hidden(x)

    def split_target_logits(
        self, batch: dict[str, jax.Array], train: bool = False
    ) -> tuple[jax.Array, jax.Array]:
        """(logits [S, K, vocab_size] at batch["target_index"] (the text targets), logits
        [S, A, 2048] at batch["action_index"] over the action ids only: the discrete ids
        [0, 1024) then the continuous bins, then, with `ModelConfig.return_tokens`, the 120
        return bins ([S, A, 2168]; `gato.model.loss.range_columns`).

        An action target's softmax then runs over its own range, as the agent samples it
        (`range_targets_loss`), and A positions read 2048 rows of the output layer, not all
        vocab_size.
        """
        for key in ("target_index", "action_index"):
            if key not in batch:
                raise ValueError(f"split_target_logits needs batch[{key!r}] int32 [S, K]")
        x = self.hidden(batch, train)
        text = self.logits_from_hidden(gather_positions(x, batch["target_index"]))
        actions = gather_positions(x, batch["action_index"])
        return text, jnp.concatenate([self._logit_rows(actions, lo, hi)
                                      for lo, hi in range_columns(self.config.return_tokens)],
                                     axis=-1)

    def init_cache(self, batch_size: int, cache_len: int) -> KVCache:
        """An empty KV cache (same as `gato.model.cache.init_cache(config, ...)`)."""
        return _init_cache(self.config, batch_size, cache_len)

    def _extend_hidden(
        self, chunk: dict[str, jax.Array], cache: KVCache
    ) -> tuple[jax.Array, KVCache]:
        """Final-normed hidden states [B, T, D] of a chunk appended to the cache; new cache."""
        check_batch(chunk)
        chunk_len = chunk["tokens"].shape[1]
        plan = plan_chunk(cache, chunk_len)
        x = self.embed(chunk, train=False)
        x, (keys, values) = self.decoder(x, (cache.keys, cache.values), plan)
        return x, KVCache(keys, values, cache.count + chunk_len)

    def extend(
        self, chunk: dict[str, jax.Array], cache: KVCache
    ) -> tuple[jax.Array, KVCache]:
        """Appends T >= 1 tokens (fields [B, T, ...], T <= cache_len) in eval mode.

        Returns (logits [B, T, vocab_size] float32 for these tokens, the updated cache).
        """
        x, cache = self._extend_hidden(chunk, cache)
        return self.embed.attend(x), cache

    def extend_last(
        self, chunk: dict[str, jax.Array], cache: KVCache, lo: int, hi: int
    ) -> tuple[jax.Array, KVCache]:
        """As `extend`, but only the last token's logits of ids [lo, hi): [B, hi - lo] float32.

        Equals `extend(...)[0][:, -1, lo:hi]` while reading hi - lo rows of the tied output layer
        instead of all vocab_size (the agent samples only inside the task's action range).
        """
        x, cache = self._extend_hidden(chunk, cache)
        return self._logit_rows(x[:, -1], lo, hi), cache

    def decode_last(
        self, chunk: dict[str, jax.Array], cache: KVCache, lo: int, hi: int
    ) -> tuple[jax.Array, KVCache]:
        """`extend_last` on `decoding_params(config, params)`, the fast path of decoding: the
        blocks run as `gato.model.transformer.decode_stack`; same results."""
        check_batch(chunk)
        chunk_len = chunk["tokens"].shape[1]
        plan = plan_chunk(cache, chunk_len)
        if "decoding" not in self.variables["params"]:
            raise ValueError("decode_last needs params from gato.model.gato.decoding_params")
        x, (keys, values) = decode_stack(self.config, self.variables["params"]["decoding"],
                                         self.embed(chunk, train=False),
                                         (cache.keys, cache.values), plan)
        return self._logit_rows(x, lo, hi), KVCache(keys, values, cache.count + chunk_len)

    def _logit_rows(self, x: jax.Array, lo: int, hi: int) -> jax.Array:
        """Tied output layer restricted to ids [lo, hi): [..., D] -> float32 [..., hi - lo]."""
        if not 0 <= lo < hi <= self.config.vocab_size:
            raise ValueError(f"id range [{lo}, {hi}) is not inside [0, {self.config.vocab_size})")
        dtype = self.config.dtype
        rows = self.embed.table.embedding[lo:hi].astype(dtype)
        return jnp.dot(x.astype(dtype), rows.T).astype(jnp.float32)


def decoding_params(config: ModelConfig, params: Any) -> Any:
    """Params of Gato(config) (boxed or not, scanned or not) in the layout of `decode_last`:
    the decoder's weights re-laid out by `decoding_stack_params` under "decoding", the rest as
    is. Call it once outside jit (it copies the decoder weights); inside jit it works too, but
    then XLA re-lays them out on every call. Already converted params are returned unchanged."""
    params = nn.meta.unbox(params)
    if "decoding" in params and "decoder" not in params:
        return params
    if "decoder" not in params:
        raise ValueError(f"params have no 'decoder' entry; they have {sorted(params)}")
    rest = {k: v for k, v in params.items() if k != "decoder"}
    return {**rest, "decoding": decoding_stack_params(params["decoder"], config.num_layers)}
