"""Model FLOPs per token, for model FLOPs utilisation (MFU) reporting.

Convention of PaLM (Chowdhery et al. 2022, appendix B): a matmul with N weights costs 2N FLOPs
per token forward and 4N backward, so training costs 6N per token for the weights that take part
in matmuls, plus 12 * layers * heads * head_dim * seq_len for the attention scores and weighted
sum (full, not halved for causality). Matmul weights here: the attention and MLP projections,
the tied output layer (vocab_size * embed_dim) and the patch projection (768 * embed_dim, counted
for every token as the model computes it for every token); embedding lookups and norms are free.
"""

from gato.model.config import ModelConfig
from gato.tokenizers.vocab import IMAGE_CHANNELS, PATCH_SIZE


def matmul_params(config: ModelConfig) -> int:
    """Number of weights used in matmuls per token (excluding attention scores)."""
    c = config
    attention = 4 * c.embed_dim * c.num_heads * c.head_dim
    mlp = 2 * c.embed_dim * c.mlp_dim
    patch = PATCH_SIZE * PATCH_SIZE * IMAGE_CHANNELS * c.embed_dim
    return c.num_layers * (attention + mlp) + c.vocab_size * c.embed_dim + patch


def attention_flops_per_token(config: ModelConfig, seq_len: int) -> float:
    """Training FLOPs per token of QK^T and AV over a context of `seq_len` tokens."""
    if seq_len <= 0:
        raise ValueError(f"seq_len must be positive, got {seq_len}")
    c = config
    return 12.0 * c.num_layers * c.num_heads * c.head_dim * seq_len


def flops_per_token(config: ModelConfig, seq_len: int) -> float:
    """Training (forward + backward) FLOPs per token: 6 * matmul_params + attention term."""
    return 6.0 * matmul_params(config) + attention_flops_per_token(config, seq_len)


def forward_flops_per_token(config: ModelConfig, seq_len: int) -> float:
    """Inference (forward only) FLOPs per token: a third of `flops_per_token`."""
    return flops_per_token(config, seq_len) / 3.0
