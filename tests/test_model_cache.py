"""KV-cache decoding equals the full forward pass (token by token, in chunks, after wrap-around)."""

import functools

import jax
import numpy as np
import pytest

from gato.model import Gato, get_model_config, init_cache, reset_rows
from gato.model.cache import attention_mask, slot_positions
from gato.testing.model import init_params, jit_apply, mixed_batch

L = 24


@pytest.fixture(scope="module", params=["none", "alibi"])
def setup(request):
    config = get_model_config("tiny", position_bias=request.param)
    return config, mixed_batch(1, 2, L), init_params(config)


@functools.cache
def _extend(config):
    return jax.jit(lambda p, chunk, cache: Gato(config).apply(
        {"params": p}, chunk, cache, method=Gato.extend))


def _decode(config, params, batch, cache_len, chunk_sizes):
    cache = init_cache(config, batch["tokens"].shape[0], cache_len)
    out, start = [], 0
    for size in chunk_sizes:
        chunk = {k: v[:, start:start + size] for k, v in batch.items() if k != "task_id"}
        logits, cache = _extend(config)(params, chunk, cache)
        out.append(logits)
        start += size
    return np.concatenate(out, axis=1), cache


def _full(config, params, batch, window=None):
    return np.asarray(jit_apply(config, False, window)(params, batch))


def test_slot_positions_and_mask():
    np.testing.assert_array_equal(slot_positions(np.array([0, 2, 5]), 4),
                                  [[-1, -1, -1, -1], [0, 1, -1, -1], [4, 1, 2, 3]])
    mask = np.asarray(attention_mask(np.array([5]), 4, 2))[0, 0]
    # queries at positions 5, 6 over keys [4, 1, 2, 3 | 5, 6]; window of 4 tokens.
    np.testing.assert_array_equal(mask, [[1, 0, 1, 1, 1, 0], [1, 0, 0, 1, 1, 1]])


def test_token_by_token_and_chunks_match_full_pass(setup):
    config, batch, params = setup
    ref = _full(config, params, batch)
    for sizes in ([1] * L, [8, 8, 8]):
        logits, cache = _decode(config, params, batch, L, sizes)
        np.testing.assert_allclose(logits, ref, atol=2e-5, rtol=1e-5)
        np.testing.assert_array_equal(cache.count, [L, L])


def test_wraparound_is_sliding_window(setup):
    config, batch, params = setup
    window = 8
    ref = _full(config, params, batch, window=window)
    assert np.abs(ref - _full(config, params, batch)).max() > 1e-3  # the window matters
    for sizes in ([1] * L, [4] * 6):
        logits, _ = _decode(config, params, batch, window, sizes)
        np.testing.assert_allclose(logits, ref, atol=2e-5, rtol=1e-5)


def test_one_layer_wraparound_equals_fresh_pass_over_last_tokens(setup):
    base, batch, _ = setup
    config = base.replace(num_layers=1)
    params = init_params(config)
    window = 7
    logits, _ = _decode(config, params, batch, window, [2] * (L // 2))
    for p in (window, L - 1):
        last = {k: v[:, p - window + 1:p + 1] for k, v in batch.items() if k != "task_id"}
        np.testing.assert_allclose(logits[:, p], _full(config, params, last)[:, -1], atol=2e-5)


def test_reset_rows_starts_a_new_sequence(setup):
    config, batch, params = setup
    _, cache = _decode(config, params, batch, L, [8])
    cache = reset_rows(cache, np.array([True, False]))
    np.testing.assert_array_equal(cache.count, [0, 8])
    first = {k: v[:, :8] for k, v in batch.items() if k != "task_id"}
    logits, _ = _extend(config)(params, first, cache)
    np.testing.assert_allclose(logits[0], _full(config, params, first)[0], atol=2e-5)


def test_chunk_longer_than_cache_is_rejected(setup):
    config, batch, params = setup
    cache = init_cache(config, 2, 4)
    with pytest.raises(ValueError, match="cache_len"):
        Gato(config).apply({"params": params}, batch, cache, method=Gato.extend)


def test_prompt_chunks_longer_than_the_slack_match_full_pass(setup):
    config, _, params = setup
    batch = mixed_batch(2, 2, 100)
    logits, _ = _decode(config, params, batch, 100, [80, 1, 19])
    np.testing.assert_allclose(logits, _full(config, params, batch), atol=2e-5, rtol=1e-5)


def test_alibi_changes_the_output_and_unknown_biases_fail():
    batch, params = mixed_batch(1, 2, L), init_params(get_model_config("tiny"))
    none, alibi = (_full(get_model_config("tiny", position_bias=b), params, batch)
                   for b in ("none", "alibi"))
    assert np.abs(none - alibi).max() > 1e-3
    with pytest.raises(ValueError, match="position_bias"):
        get_model_config("tiny", position_bias="rope")
