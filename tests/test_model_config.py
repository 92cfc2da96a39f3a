"""Model configs, parameter counts of the paper sizes (no allocation), FLOPs per token."""

import numpy as np
import pytest

from gato.model import (
    MODEL_SIZES,
    ModelConfig,
    count_params,
    flops_per_token,
    get_model_config,
    matmul_params,
    param_breakdown,
)
from gato.testing.model import init_params
from gato.tokenizers.vocab import CONTINUOUS_BINS, CONTINUOUS_OFFSET, VOCAB_SIZE


def _block_params(c: ModelConfig) -> int:
    """Hand count of one pre-LN block: q/k/v/out kernels, MLP kernels and biases, two LNs."""
    attention = 4 * c.embed_dim * c.num_heads * c.head_dim
    mlp = 2 * c.embed_dim * c.mlp_dim + c.mlp_dim + c.embed_dim
    return attention + mlp + 4 * c.embed_dim


@pytest.mark.parametrize("name", MODEL_SIZES)
def test_breakdown_matches_hand_count(name):
    c = get_model_config(name)
    got = param_breakdown(c)
    assert got["token_embedding"] == VOCAB_SIZE * c.embed_dim
    assert got["transformer"] == c.num_layers * _block_params(c) + 2 * c.embed_dim
    patch = 2 * (81 + 3 + 6) + 768 * c.embed_dim + c.embed_dim
    positions = (2 * c.patch_position_buckets + c.max_local_positions + 1) * c.embed_dim
    assert got["image_and_positions"] == patch + positions
    assert got["total"] == sum(v for k, v in got.items() if k != "total") == count_params(c)


# Measured with count_params (see the report): total parameters, and the transformer blocks
# alone, in millions, against the paper's names 79M / 364M / 1.18B.
PAPER = {"79m": (79e6, 83.22, 56.68), "364m": (364e6, 393.00, 339.91),
         "1.18b": (1.18e9, 1279.19, 1208.41)}


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_sizes(name):
    nominal, total, transformer = PAPER[name]
    got = param_breakdown(get_model_config(name))
    assert got["total"] / 1e6 == pytest.approx(total, abs=0.01)
    assert got["transformer"] / 1e6 == pytest.approx(transformer, abs=0.01)
    assert abs(got["total"] / nominal - 1) < 0.09


def test_flops_per_token():
    c = get_model_config("79m")
    n = matmul_params(c)
    assert n == 8 * (4 * 768 * 768 + 2 * 768 * 3072) + VOCAB_SIZE * 768 + 768 * 768
    assert flops_per_token(c, 1024) == 6 * n + 12 * 8 * 24 * 32 * 1024
    assert flops_per_token(c, 2048) > flops_per_token(c, 1024)
    with pytest.raises(ValueError, match="seq_len"):
        flops_per_token(c, 0)


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="unknown model size"):
        get_model_config("80m")
    with pytest.raises(ValueError, match="num_layer"):
        get_model_config("tiny", num_layer=3)
    with pytest.raises(ValueError, match="dtype"):
        get_model_config("tiny", dtype="float16")
    with pytest.raises(ValueError, match="remat"):
        get_model_config("tiny", remat="sometimes")
    with pytest.raises(ValueError, match="embed_dim"):
        ModelConfig(embed_dim=0)
    c = get_model_config("1.18B", dtype="bfloat16", scan_layers=False)
    assert (c.num_layers, c.num_heads, c.embed_dim, c.mlp_dim, c.head_dim) == (24, 16, 2048,
                                                                              8192, 128)
    assert c.dtype == "bfloat16" and not c.scan_layers and c.max_len == 1024


def test_sinusoidal_continuous_bins_start_smooth_and_leave_other_rows_alone():
    tables = {init: np.asarray(init_params(get_model_config(
        "tiny", continuous_embedding_init=init))["embed"]["table"]["embedding"])
        for init in ("normal", "sinusoidal")}
    for init, table in tables.items():
        rows = table[CONTINUOUS_OFFSET:CONTINUOUS_OFFSET + CONTINUOUS_BINS]
        unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        near = np.mean(np.sum(unit[:-1] * unit[1:], axis=1))
        far = np.mean(np.sum(unit[:-300] * unit[300:], axis=1))
        assert abs(rows.std() - 0.02) < 0.003
        assert abs(table[:CONTINUOUS_OFFSET].std() - 0.02) < 0.003
        if init == "sinusoidal":
            assert near > 0.9 and abs(far) < 0.2, (near, far)
        else:
            assert abs(near) < 0.2, near
    with pytest.raises(ValueError, match="continuous_embedding_init"):
        get_model_config("tiny", continuous_embedding_init="fourier")
