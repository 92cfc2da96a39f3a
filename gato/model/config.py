"""Model hyperparameters: a frozen dataclass and the named sizes of Gato (Reed et al. 2022, T. 6).

Sizes (blocks / heads / width / feed-forward / key size):

    79m    8 / 24 /  768 / 3072 /  32
    364m  12 / 12 / 1536 / 6144 / 128
    1.18b 24 / 16 / 2048 / 8192 / 128
    small  4 /  4 /  256 / 1024 /  64   (CPU runs)
    tiny   2 /  2 /   64 /  256 /  32   (tests)

See `gato.model.gato.param_breakdown` for how parameters are counted against these names.
"""

import dataclasses
from typing import Any

from gato.tokenizers.vocab import PATCH_POSITION_BUCKETS, RETURN_VOCAB_SIZE, VOCAB_SIZE

DTYPES = ("float32", "bfloat16")
REMAT_POLICIES = (
    "nothing_saveable",
    "everything_saveable",
    "dots_saveable",
    "dots_with_no_batch_dims_saveable",
)
ATTENTION_IMPLS = (None, "xla", "cudnn")
CONTINUOUS_EMBEDDING_INITS = ("normal", "sinusoidal")
POSITION_BIASES = ("none", "alibi")
ACTION_INPUTS = ("tokens", "masked")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Hyperparameters of the Gato decoder.

    Attributes:
      vocab_size: number of token ids (text, discrete, continuous, separator); the embedding table
        and the tied output layer have exactly this many rows, so logits never exceed it.
      num_layers, num_heads, embed_dim, mlp_dim, head_dim: transformer shape; head_dim is the
        key/value size per head (num_heads * head_dim need not equal embed_dim).
      max_len: context length in tokens (the longest sequence the model is trained on).
      max_local_positions: rows of the local observation position table; larger indices clip.
      patch_position_buckets: rows of the patch row and column position tables.
      patch_channels: features of the patch encoder's ResNet block. 0: the image's own channels
        (1 for grayscale Atari, 3 for RGB), so the block is a 1- or 3-channel filter and the
        encoder nearly a linear map of the pixels. N > 0: a stem first maps each non-overlapping
        patch_stem x patch_stem block of pixels to N features (a linear layer, i.e. a strided
        convolution), and the block runs at N channels with GroupNorm of min(32, N) groups
        (the paper's block has 32 groups, so it too is wider than the pixels).
      patch_stem: side in pixels of the stem's blocks (divides 16); used when patch_channels > 0.
      dtype: compute dtype, "bfloat16" or "float32"; logits and the loss are always float32.
      param_dtype: storage dtype of the parameters.
      remat: False, True (recompute everything in the backward pass) or a policy name from
        REMAT_POLICIES (`jax.checkpoint_policies`).
      scan_layers: stack the blocks with `nn.scan` (params get a leading "layers" axis).
      dropout_rate: dropout on the embeddings and on each residual branch (train mode only).
      attention_impl: passed to `jax.nn.dot_product_attention` (None lets JAX choose; "cudnn"
        selects cuDNN flash attention on GPU and needs a 16-bit dtype).
      attention_blocks: 1 (that call) or N > 1: the full-sequence attention in N query blocks,
        each over the keys up to its end, skipping the masked score blocks
        (`gato.model.attention.blocked_causal_attention`: the same math, faster on CPUs).
      position_bias: "none" (the paper: order reaches the model only through the causal mask and
        the local observation encodings) or "alibi" (Press et al. 2022): each head adds
        -slope * (query position - key position) to its attention scores, a relative recency
        bias with fixed geometric slopes and no parameters (`gato.model.attention.alibi_slopes`).
        Without it the model must infer which tokens are the latest timestep's, which small
        models on short runs learn slowly.
      continuous_embedding_init: initial rows of the 1024 continuous-value bins in the shared
        table: "normal" like every other row (the paper), or "sinusoidal": smooth in the bin
        index (see `gato.model.embed.sinusoidal_bins`), so neighbouring values start out similar
        as inputs and, through the tied output layer, as predictions.
      action_inputs: what an action token contributes as an input to later positions: "tokens"
        (the paper: its id's row of the table plus the action encoding) or "masked" (the action
        encoding only; the id stays the target). Cloned policies that see the expert's previous
        actions learn to copy them (they are smooth in time) instead of reading the observation,
        and then copy their own mistakes in closed loop; "masked" removes that shortcut, in
        training and at deployment alike (both go through `TokenEmbed`).
      return_tokens: False (Gato) or True: the model reads and predicts return-to-go tokens
        (`gato.tokenizers.returns`), whose 120 bins follow the paper's vocabulary, so vocab_size
        must be at least RETURN_VOCAB_SIZE (`get_model_config` sets it); "sinusoidal"
        continuous_embedding_init starts the return bins smooth too. The data's return tokens
        are switched on by data.returns (`gato.envs.returns`); the trainer checks the two agree.
    """

    vocab_size: int = VOCAB_SIZE
    num_layers: int = 8
    num_heads: int = 24
    embed_dim: int = 768
    mlp_dim: int = 3072
    head_dim: int = 32
    max_len: int = 1024
    max_local_positions: int = 512
    patch_position_buckets: int = PATCH_POSITION_BUCKETS
    patch_channels: int = 0
    patch_stem: int = 4
    dtype: str = "float32"
    param_dtype: str = "float32"
    remat: bool | str = False
    scan_layers: bool = True
    dropout_rate: float = 0.0
    attention_impl: str | None = None
    attention_blocks: int = 1
    continuous_embedding_init: str = "normal"
    position_bias: str = "none"
    action_inputs: str = "tokens"
    return_tokens: bool = False

    def __post_init__(self):
        for name in ("vocab_size", "num_layers", "num_heads", "embed_dim", "mlp_dim", "head_dim",
                     "max_len", "max_local_positions", "patch_position_buckets"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"ModelConfig.{name} must be positive, got {getattr(self, name)}")
        for name in ("dtype", "param_dtype"):
            if getattr(self, name) not in DTYPES:
                raise ValueError(f"ModelConfig.{name}={getattr(self, name)!r} not in {DTYPES}")
        if not isinstance(self.remat, bool) and self.remat not in REMAT_POLICIES:
            raise ValueError(f"ModelConfig.remat={self.remat!r}: use a bool or {REMAT_POLICIES}")
        if self.attention_impl not in ATTENTION_IMPLS:
            raise ValueError(
                f"ModelConfig.attention_impl={self.attention_impl!r} not in {ATTENTION_IMPLS}")
        if int(self.attention_blocks) < 1 or (self.attention_blocks > 1
                                               and self.attention_impl == "cudnn"):
            raise ValueError(f"ModelConfig.attention_blocks={self.attention_blocks!r}: use 1 "
                             "or more, and 1 with attention_impl='cudnn'")
        if self.continuous_embedding_init not in CONTINUOUS_EMBEDDING_INITS:
            raise ValueError(f"ModelConfig.continuous_embedding_init="
                             f"{self.continuous_embedding_init!r} not in "
                             f"{CONTINUOUS_EMBEDDING_INITS}")
        if self.position_bias not in POSITION_BIASES:
            raise ValueError(f"ModelConfig.position_bias={self.position_bias!r} not in "
                             f"{POSITION_BIASES}")
        if self.action_inputs not in ACTION_INPUTS:
            raise ValueError(f"ModelConfig.action_inputs={self.action_inputs!r} not in "
                             f"{ACTION_INPUTS}")
        if self.return_tokens and self.vocab_size < RETURN_VOCAB_SIZE:
            raise ValueError(f"ModelConfig.return_tokens needs vocab_size >= {RETURN_VOCAB_SIZE} "
                             f"(the return bins), got {self.vocab_size}")
        if self.patch_channels < 0 or self.patch_stem < 1 or 16 % self.patch_stem:
            raise ValueError(f"ModelConfig.patch_channels must be >= 0 and patch_stem divide 16, "
                             f"got {self.patch_channels} and {self.patch_stem}")
        if self.patch_channels > 0 and self.patch_channels % min(32, self.patch_channels):
            raise ValueError(f"ModelConfig.patch_channels={self.patch_channels}: above 32 it must "
                             "be a multiple of 32 (the block's GroupNorm has 32 groups)")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"ModelConfig.dropout_rate must be in [0, 1), got {self.dropout_rate}")

    def replace(self, **overrides: Any) -> "ModelConfig":
        return dataclasses.replace(self, **overrides)


_SIZES: dict[str, dict[str, int]] = {
    "79m": dict(num_layers=8, num_heads=24, embed_dim=768, mlp_dim=3072, head_dim=32),
    "364m": dict(num_layers=12, num_heads=12, embed_dim=1536, mlp_dim=6144, head_dim=128),
    "1.18b": dict(num_layers=24, num_heads=16, embed_dim=2048, mlp_dim=8192, head_dim=128),
    "small": dict(num_layers=4, num_heads=4, embed_dim=256, mlp_dim=1024, head_dim=64),
    "tiny": dict(num_layers=2, num_heads=2, embed_dim=64, mlp_dim=256, head_dim=32,
                 max_len=256, max_local_positions=128),
}
MODEL_SIZES = tuple(_SIZES)


def get_model_config(name: str, **overrides: Any) -> ModelConfig:
    """The named model size (one of MODEL_SIZES) with `overrides` applied to its fields; with
    return_tokens=True and no vocab_size given, vocab_size is RETURN_VOCAB_SIZE."""
    key = name.lower()
    if key not in _SIZES:
        raise ValueError(f"unknown model size {name!r}; expected one of {MODEL_SIZES}")
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown ModelConfig fields {unknown}; fields are {sorted(fields)}")
    if overrides.get("return_tokens") and "vocab_size" not in overrides:
        overrides = {**overrides, "vocab_size": RETURN_VOCAB_SIZE}
    return ModelConfig(**{**_SIZES[key], **overrides})
