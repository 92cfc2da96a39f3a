"""Fast decoding: `Gato.decode_last` on `decoding_params` equals the full pass (chunks long and
short, across ring wrap-around), range sampling equals masked full-vocabulary sampling, and the
jitted decoding steps update the cache without copying it."""

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gato.eval.agent import compiled_decoder, sample_rows
from gato.eval.decoding import sample_in_range
from gato.model import Gato, get_model_config, init_cache, unstack_layer_params
from gato.model.cache import CHUNK_SLACK
from gato.model.gato import MODEL_FIELDS, decoding_params
from gato.testing.model import init_params, jit_apply, mixed_batch
from gato.tokenizers.vocab import CONTINUOUS_OFFSET

L, LO, HI = 240, CONTINUOUS_OFFSET, CONTINUOUS_OFFSET + 1024


@pytest.fixture(scope="module", params=[{"position_bias": "none"}, {"position_bias": "alibi"},
                                        {"action_inputs": "masked"}])
def setup(request):
    config = get_model_config("tiny", **request.param)
    return config, mixed_batch(3, 2, L), init_params(config)


@functools.cache
def _step(config, method):
    return jax.jit(lambda p, chunk, cache: Gato(config).apply(
        {"params": p}, chunk, cache, LO, HI, method=method))


def _last_logits(config, params, batch, cache_len, sizes, method):
    """Logits [B, HI - LO] at the last token of each chunk, stacked [B, chunks, HI - LO]."""
    cache, out, start = init_cache(config, 2, cache_len), [], 0
    for size in sizes:
        chunk = {k: batch[k][:, start:start + size] for k in MODEL_FIELDS}
        logits, cache = _step(config, method)(params, chunk, cache)
        out.append(logits)
        start += size
    np.testing.assert_array_equal(cache.count, [start, start])
    return np.stack(out, axis=1)


@pytest.mark.parametrize("window,sizes", [
    (100, [80, CHUNK_SLACK + 1, 1, 79] + [1] * 16),  # long chunks attend then write; wraps
    (8, [8] * 9 + [1] * 4),
])
def test_decode_last_matches_full_pass(setup, window, sizes):
    config, batch, params = setup
    assert window + CHUNK_SLACK < sum(sizes) <= L  # the ring buffer wraps around
    ends = np.cumsum(sizes) - 1
    ref = np.asarray(jit_apply(config, False, window)(params, batch))[:, ends, LO:HI]
    fast = _last_logits(config, decoding_params(config, params), batch, window, sizes,
                        Gato.decode_last)
    np.testing.assert_allclose(fast, ref, atol=2e-5, rtol=1e-5)


def test_extend_last_equals_decode_last_on_any_layout(setup):
    config, batch, params = setup
    sizes = [8, 1, 1]
    slow = _last_logits(config, params, batch, 8, sizes, Gato.extend_last)
    fast = _last_logits(config, decoding_params(config, params), batch, 8, sizes,
                        Gato.decode_last)
    np.testing.assert_allclose(fast, slow, atol=2e-5, rtol=1e-5)
    per_layer = {**params, "decoder": unstack_layer_params(params["decoder"], 2)}
    jax.tree.map(np.testing.assert_array_equal,  # scanned or per-layer: the same layout
                 decoding_params(config, per_layer), decoding_params(config, params))
    with pytest.raises(ValueError, match="decoding_params"):
        _step(config, Gato.decode_last)(params, {k: batch[k][:, :1] for k in MODEL_FIELDS},
                                        init_cache(config, 2, 8))


@pytest.mark.parametrize("mode", ["sample", "greedy", "mean"])
def test_sample_in_range_equals_masked_full_sampling(mode):
    logits = jax.random.normal(jax.random.key(0), (6, 33025)) * 3.0
    keys = jnp.stack([jax.random.PRNGKey(s) for s in range(6)])
    lo, hi = 32000, 32011
    for count, temperature in ((0, 1.0), (7, 0.5), (8, 2.0)):
        args = (keys, jnp.int32(count), jnp.float32(temperature))
        full = sample_rows(logits, *args, lo=lo, hi=hi, mode=mode)
        ranged = sample_in_range(logits[:, lo:hi], *args, lo, 33025, mode)
        np.testing.assert_array_equal(ranged, full)
    with pytest.raises(ValueError, match="inside"):
        sample_in_range(logits[:, :20], *args, 33020, 33025, mode)


def test_decoding_steps_do_not_copy_the_cache(setup):
    config, batch, params = setup
    cache = init_cache(config, 2, 16)
    shapes = {",".join(map(str, a.shape)) for a in (cache.keys[0], cache.values[0])}
    steps = compiled_decoder(config)
    keys, count, temp = jnp.stack([jax.random.PRNGKey(0)] * 2), jnp.int32(0), jnp.float32(1.0)
    chunk = {k: batch[k][:, :3] for k in MODEL_FIELDS}
    params = decoding_params(config, params)
    compiled = [
        steps.extend_sample.lower(params, chunk, cache, keys, count, temp, lo=LO, hi=HI,
                                  mode="sample").compile(),
        steps.action_sample.lower(params, jnp.zeros(2, jnp.int32), cache, keys, count, temp,
                                  lo=LO, hi=HI, mode="sample", modality=3).compile()]
    for c in compiled:
        hlo = c.as_text()
        assert "input_output_alias" in hlo  # the cache is donated
        for shape in shapes:
            copies = re.findall(rf"f32\[{shape}\]\S* (?:copy|transpose)\(", hlo)
            assert not copies, f"the cache buffer [{shape}] is copied: {copies}"
