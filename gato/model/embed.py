"""Token embedding of Gato (Reed et al. 2022, 2.2): a table for ids, a ResNet block for patches.

Every token becomes one `embed_dim` vector:

  - ids (text, discrete, continuous, separator, and return-to-go bins in models with return
    tokens) through one shared `nn.Embed` table, the same table that produces the output logits
    (tied, `TokenEmbed.attend`); a return token adds no position or action encoding;
  - image patches (only at batch["image_index"] positions when given, see `gato.train.positions`),
    normalized by `gato.tokenizers.image.normalize` ([-1, 1] / 4), through an optional stem
    (`ModelConfig.patch_channels`) and a single pre-activation ResNet v2 block (GroupNorm ->
    GELU -> conv3x3 -> GroupNorm -> GELU -> conv3x3, plus the input), flattened and projected
    linearly to embed_dim,
    plus learned row and column patch position encodings (see `patch_position_buckets`);
  - observation tokens (modality IMAGE, DISCRETE or CONTINUOUS, not action) add a learned local
    position encoding indexed by `local_pos`; text is not an observation here (documents carry no
    local positions), so text inside observations gets none either;
  - action tokens all add one shared learned action encoding; with
    `ModelConfig.action_inputs="masked"` that encoding is all they contribute (their ids are not
    embedded), so later positions cannot read the previous actions' values.

There is no absolute sequence position encoding: as in Gato, order reaches the causal transformer
only through the causal mask and the local encodings. This also makes a ring-buffer KV cache
implement a sliding attention window exactly (see `gato.model.gato`).
"""

import math
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from gato.model.config import ModelConfig
from gato.model.loss import gather_positions
from gato.tokenizers.image import normalize
from gato.tokenizers.sequence import Modality
from gato.tokenizers.vocab import CONTINUOUS_BINS, CONTINUOUS_OFFSET, RETURN_BINS, RETURN_OFFSET

EMBED_STD = 0.02  # standard deviation of every initial table entry
MAX_BIN_CYCLES = 128.0  # highest frequency of `sinusoidal_bins`, in periods over the 1024 bins


def sinusoidal_bins(key: jax.Array, bins: int, dim: int, dtype=jnp.float32,
                    max_cycles: float = MAX_BIN_CYCLES) -> jax.Array:
    """Rows [bins, dim] smooth in the bin index: sqrt(2) * EMBED_STD * sin(2 pi f x + phase)
    with x = bin / (bins - 1), one frequency f per column, log-uniform in [0.5, max_cycles]
    periods, and a uniform phase. Each entry has standard deviation about EMBED_STD; the cosine
    similarity of two rows falls smoothly with their distance in bins (about 0.5 at 10 bins of
    the 1024 continuous ones)."""
    k_freq, k_phase = jax.random.split(key)
    cycles = jnp.exp(jax.random.uniform(k_freq, (dim,), minval=math.log(0.5),
                                        maxval=math.log(max_cycles)))
    phase = jax.random.uniform(k_phase, (dim,), maxval=2 * math.pi)
    x = jnp.arange(bins, dtype=jnp.float32)[:, None] / (bins - 1)
    rows = math.sqrt(2) * EMBED_STD * jnp.sin(2 * math.pi * cycles * x + phase)
    return rows.astype(dtype)


def _table_init(cfg: ModelConfig) -> Callable:
    """Initializer of the shared token table [vocab_size, embed_dim]; "sinusoidal" starts the
    continuous bins (and the return bins, when the model has them) smooth in the bin index."""
    normal = nn.initializers.normal(EMBED_STD)
    if cfg.continuous_embedding_init == "normal":
        return normal

    def init(key, shape, dtype=jnp.float32):
        k_table, k_bins = jax.random.split(key)
        table = normal(k_table, shape, dtype).at[
            CONTINUOUS_OFFSET:CONTINUOUS_OFFSET + CONTINUOUS_BINS].set(
                sinusoidal_bins(k_bins, CONTINUOUS_BINS, shape[1], dtype))
        if cfg.return_tokens:
            # the same periods per bin as the continuous bins: the smoothest period of 8 bins
            returns = sinusoidal_bins(jax.random.fold_in(k_bins, 1), RETURN_BINS, shape[1],
                                      dtype, MAX_BIN_CYCLES * RETURN_BINS / CONTINUOUS_BINS)
            table = table.at[RETURN_OFFSET:RETURN_OFFSET + RETURN_BINS].set(returns)
        return table

    return init


def patch_position_buckets(
    interval: jax.Array, buckets: int, train: bool, rng: jax.Array | None
) -> jax.Array:
    """Quantizes normalized [lo, hi) intervals [...,2] to a bucket index [...] in [0, buckets).

    The interval covers buckets [floor(lo*buckets), ceil(hi*buckets)). In train mode a bucket is
    drawn uniformly inside that range (needs `rng`); at eval the rounded-half-up mean of the
    range, (first + end) // 2, is used.
    """
    lo = jnp.floor(interval[..., 0] * buckets).astype(jnp.int32)
    hi = jnp.ceil(interval[..., 1] * buckets).astype(jnp.int32)
    lo = jnp.clip(lo, 0, buckets - 1)
    hi = jnp.clip(hi, lo + 1, buckets)
    if not train:
        return (lo + hi) // 2
    if rng is None:
        raise ValueError("train-mode patch positions need an rng (pass rngs={'patch_pos': ...})")
    u = jax.random.uniform(rng, lo.shape)
    return jnp.minimum(lo + jnp.floor(u * (hi - lo)).astype(jnp.int32), hi - 1)


def space_to_depth(x: jax.Array, k: int) -> jax.Array:
    """[N, H, W, C] -> [N, H/k, W/k, k*k*C]: each non-overlapping k x k block of pixels as the
    channels of one position (row-major in the block, then channel), so a dense layer on the
    result is a k x k convolution of stride k."""
    n, h, w, c = x.shape
    x = x.reshape((n, h // k, k, w // k, k, c)).transpose((0, 1, 3, 2, 4, 5))
    return x.reshape((n, h // k, w // k, k * k * c))


class PatchEncoder(nn.Module):
    """One ResNet v2 block per 16x16xC patch, flattened, projected: [B,L,16,16,C] -> [B,L,D].

    With config.patch_channels N > 0 a stem first maps each patch_stem-sided block of pixels to
    N features (space-to-depth, then a dense layer), and the block runs at N channels on the
    (16/patch_stem)^2 grid with GroupNorm of min(32, N) groups; else at the C pixel channels."""

    config: ModelConfig

    @nn.compact
    def __call__(self, patches: jax.Array) -> jax.Array:
        cfg = self.config
        lead, (h, w, c) = patches.shape[:-3], patches.shape[-3:]
        x = normalize(patches, jnp.float32).reshape((-1, h, w, c)).astype(cfg.dtype)
        groups = 1
        if cfg.patch_channels:
            x = space_to_depth(x, cfg.patch_stem)
            h, w, c = x.shape[1], x.shape[2], cfg.patch_channels
            x = nn.Dense(c, dtype=cfg.dtype, param_dtype=cfg.param_dtype, name="stem",
                         kernel_init=nn.with_logical_partitioning(
                             nn.initializers.lecun_normal(), (None, None)),
                         bias_init=nn.with_logical_partitioning(nn.initializers.zeros, (None,)),
                         )(x)
            groups = min(32, c)
        y = x
        for i in range(2):
            y = nn.GroupNorm(
                num_groups=groups, dtype=cfg.dtype, param_dtype=cfg.param_dtype, name=f"norm{i}",
                scale_init=nn.with_logical_partitioning(nn.initializers.ones, (None,)),
                bias_init=nn.with_logical_partitioning(nn.initializers.zeros, (None,)))(y)
            y = nn.gelu(y)
            y = nn.Conv(c, (3, 3), padding="SAME", dtype=cfg.dtype, param_dtype=cfg.param_dtype,
                        kernel_init=nn.with_logical_partitioning(
                            nn.initializers.lecun_normal(), (None, None, "patch_in", None)),
                        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, (None,)),
                        name=f"conv{i}")(y)
        x = (x + y).reshape((*lead, h * w * c))
        return nn.Dense(cfg.embed_dim, dtype=cfg.dtype, param_dtype=cfg.param_dtype,
                        kernel_init=nn.with_logical_partitioning(
                            nn.initializers.lecun_normal(), ("patch_in", "embed")),
                        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("embed",)),
                        name="proj")(x)


def _table(module: nn.Module, name: str, rows: int, cfg: ModelConfig) -> jax.Array:
    init = nn.with_logical_partitioning(nn.initializers.normal(0.02), ("positions", "embed"))
    return module.param(name, init, (rows, cfg.embed_dim), cfg.param_dtype)


class TokenEmbed(nn.Module):
    """Embeds token sequences: fields [B, L, ...] -> [B, L, embed_dim] in config.dtype."""

    config: ModelConfig

    def setup(self):
        cfg = self.config
        self.table = nn.Embed(
            cfg.vocab_size, cfg.embed_dim, dtype=cfg.dtype, param_dtype=cfg.param_dtype,
            embedding_init=nn.with_logical_partitioning(_table_init(cfg), ("vocab", "embed")))
        self.patch_encoder = PatchEncoder(cfg)
        rows = cfg.patch_position_buckets
        self.patch_row_embedding = _table(self, "patch_row_embedding", rows, cfg)
        self.patch_col_embedding = _table(self, "patch_col_embedding", rows, cfg)
        self.local_position_embedding = _table(
            self, "local_position_embedding", cfg.max_local_positions, cfg)
        action_init = nn.with_logical_partitioning(nn.initializers.normal(0.02), ("embed",))
        self.action_embedding = self.param(
            "action_embedding", action_init, (cfg.embed_dim,), cfg.param_dtype)

    def __call__(self, batch: dict[str, jax.Array], train: bool) -> jax.Array:
        cfg = self.config
        modality = batch["modality"].astype(jnp.int32)
        is_image = (modality == Modality.IMAGE)[..., None]
        is_action = batch["is_action"][..., None]
        ids = self.table(batch["tokens"])
        if cfg.action_inputs == "masked":
            ids = jnp.where(is_action, jnp.zeros_like(ids), ids)
        if "image_index" in batch:
            patches = self._encode_at(batch["patches"], batch["image_index"])
        else:
            patches = self.patch_encoder(batch["patches"])
        x = jnp.where(is_image, patches, ids)

        rng = self.make_rng("patch_pos") if train else None
        buckets = patch_position_buckets(batch["patch_pos"].reshape((*modality.shape, 2, 2)),
                                         cfg.patch_position_buckets, train, rng)
        rows = self.patch_row_embedding.astype(cfg.dtype)[buckets[..., 0]]
        cols = self.patch_col_embedding.astype(cfg.dtype)[buckets[..., 1]]
        x = x + is_image * (rows + cols)

        observed = (modality == Modality.IMAGE) | (modality == Modality.DISCRETE)
        observed = (observed | (modality == Modality.CONTINUOUS)) & ~batch["is_action"]
        local = jnp.clip(batch["local_pos"], 0, cfg.max_local_positions - 1)
        x = x + observed[..., None] * self.local_position_embedding.astype(cfg.dtype)[local]
        return (x + is_action * self.action_embedding.astype(cfg.dtype)).astype(cfg.dtype)

    def _encode_at(self, patches: jax.Array, index: jax.Array) -> jax.Array:
        """Patch embeddings [B, L, D] computed only at index int32 [S, M] (flat positions per
        group of B/S rows, -1 padding; `gato.train.positions`), zero elsewhere. The same
        values as `patch_encoder(patches)` at those positions, at M/(B*L) of the cost."""
        groups = index.shape[0]
        encoded = self.patch_encoder(gather_positions(patches, index))  # [S, M, D]
        flat_len = patches.shape[0] // groups * patches.shape[1]
        index = jnp.where(index < 0, flat_len, index)  # padding lands out of range: dropped
        flat = jnp.zeros((groups, flat_len, encoded.shape[-1]), encoded.dtype)
        flat = jax.vmap(lambda f, i, e: f.at[i].set(e, mode="drop"))(flat, index, encoded)
        return flat.reshape((*patches.shape[:2], encoded.shape[-1]))

    def attend(self, x: jax.Array) -> jax.Array:
        """Tied output layer: [..., D] -> float32 logits [..., vocab_size]."""
        return self.table.attend(x).astype(jnp.float32)
