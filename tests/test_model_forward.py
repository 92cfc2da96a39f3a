"""Gato forward pass: shapes, causality, embedding rules, dtypes, scan/remat variants."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gato.model import (
    Gato,
    get_model_config,
    param_shapes,
    stack_layer_params,
    unstack_layer_params,
)
from gato.model.embed import patch_position_buckets
from gato.testing.model import init_params, jit_apply, mixed_batch
from gato.tokenizers.sequence import Modality
from gato.tokenizers.vocab import VOCAB_SIZE

L = 40


@pytest.fixture(scope="module")
def setup():
    config = get_model_config("tiny")
    return config, mixed_batch(0, 2, L), init_params(config)


def _logits(config, params, batch, train=False, rngs=None):
    return jit_apply(config, train)(params, batch, rngs)


def _with_dropout(config):
    return config.replace(dropout_rate=0.1)


def test_shapes_and_dtypes(setup):
    config, batch, params = setup
    logits = _logits(config, params, batch)
    assert logits.shape == (2, L, VOCAB_SIZE) and logits.dtype == jnp.float32
    assert np.isfinite(np.asarray(logits)).all()
    rngs = {"patch_pos": jax.random.key(2), "dropout": jax.random.key(3)}
    train_logits = _logits(_with_dropout(config), params, batch, train=True, rngs=rngs)
    assert train_logits.shape == logits.shape
    assert not np.allclose(train_logits, logits)


def test_missing_field_is_named(setup):
    config, batch, params = setup
    bad = {k: v for k, v in batch.items() if k != "local_pos"}
    with pytest.raises(ValueError, match="local_pos"):
        _logits(config, params, bad)


def test_causal(setup):
    config, batch, params = setup
    j = 20
    changed = {k: v.copy() for k, v in batch.items()}
    changed["tokens"][:, j] = (changed["tokens"][:, j] + 7) % 32_000
    changed["patches"][:, j] = 255 - changed["patches"][:, j]
    changed["modality"][:, j] = Modality.TEXT
    a, b = _logits(config, params, batch), _logits(config, params, changed)
    np.testing.assert_allclose(a[:, :j], b[:, :j], atol=1e-5)
    assert np.abs(a[:, j:] - b[:, j:]).max() > 1e-3


def test_local_position_only_on_observations(setup):
    config, batch, params = setup
    base = _logits(config, params, batch)
    text = batch["modality"][0] == Modality.TEXT
    action = batch["is_action"][0]
    for where, should_change in ((text, False), (action, False), (~text & ~action, True)):
        changed = {k: v.copy() for k, v in batch.items()}
        i = int(np.flatnonzero(where & (batch["modality"][0] != Modality.PAD))[0])
        changed["local_pos"][0, i] += 5
        diff = np.abs(_logits(config, params, changed) - base)[0, i].max()
        assert (diff > 1e-4) == should_change, (i, diff)


def test_masked_action_inputs_hide_action_values(setup):
    config, batch, params = setup
    action = batch["is_action"]
    assert action.any()
    changed = {k: v.copy() for k, v in batch.items()}
    changed["tokens"][action] = (changed["tokens"][action] + 5) % 32_000
    masked = config.replace(action_inputs="masked")
    np.testing.assert_allclose(_logits(masked, params, changed), _logits(masked, params, batch),
                               atol=1e-6)
    assert np.abs(_logits(config, params, changed) - _logits(config, params, batch)).max() > 1e-3
    with pytest.raises(ValueError, match="action_inputs"):
        get_model_config("tiny", action_inputs="dropped")


def test_patch_position_buckets():
    interval = jnp.array([[0.0, 0.5], [0.25, 0.5], [0.3, 0.31], [0.5, 1.0]])
    lo, hi = np.array([0, 32, 38, 64]), np.array([64, 64, 40, 128])
    np.testing.assert_array_equal(patch_position_buckets(interval, 128, False, None),
                                  (lo + hi) // 2)
    many = jnp.broadcast_to(interval, (2000, 4, 2))
    sampled = np.asarray(patch_position_buckets(many, 128, True, jax.random.key(0)))
    assert (sampled >= lo).all() and (sampled < hi).all()
    for k in range(4):
        assert set(np.unique(sampled[:, k])) == set(range(lo[k], hi[k]))
    with pytest.raises(ValueError, match="rng"):
        patch_position_buckets(interval, 128, True, None)


def test_train_mode_samples_patch_positions(setup):
    config, batch, params = setup
    rngs = [{"patch_pos": jax.random.key(i), "dropout": jax.random.key(9)} for i in range(2)]
    a, b = (_logits(_with_dropout(config), params, batch, train=True, rngs=r) for r in rngs)
    image = batch["modality"] == Modality.IMAGE
    first_image = int(np.flatnonzero(image[0])[0])
    assert np.abs(a - b)[0, first_image].max() > 1e-4
    np.testing.assert_allclose(a[:, :first_image], b[:, :first_image], atol=1e-6)


def test_bfloat16_close_to_float32(setup):
    config, batch, params = setup
    ref = _logits(config, params, batch)
    out = _logits(config.replace(dtype="bfloat16"), params, batch)
    assert out.dtype == jnp.float32
    scale = np.abs(np.asarray(ref)).max()
    assert np.abs(np.asarray(out) - np.asarray(ref)).max() < 0.05 * scale


def test_scan_and_loop_layers_agree(setup):
    config, batch, params = setup
    ref = _logits(config, params, batch)
    loop = config.replace(scan_layers=False)
    loop_params = dict(params, decoder=unstack_layer_params(params["decoder"], config.num_layers))
    assert jax.tree.structure(loop_params) == jax.tree.structure(param_shapes(loop))
    np.testing.assert_allclose(_logits(loop, loop_params, batch), ref, atol=1e-5)
    restacked = stack_layer_params(loop_params["decoder"], config.num_layers)
    jax.tree.map(np.testing.assert_array_equal, restacked, params["decoder"])


def test_remat_gradients_match(setup):
    """Remat (with a policy, on unscanned layers) gives the plain scanned model's gradients; remat
    with scanned layers runs in the overfitting test."""
    config, batch, params = setup

    def grad(p, cfg):
        return jax.jit(jax.grad(lambda p: jnp.mean(_logits(cfg, p, batch) ** 2)))(p)

    ref = grad(params, config)
    cfg = config.replace(remat="dots_saveable", scan_layers=False)
    unstacked = unstack_layer_params(params["decoder"], config.num_layers)
    grads = grad(dict(params, decoder=unstacked), cfg)
    grads = dict(grads, decoder=stack_layer_params(grads["decoder"], config.num_layers))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6), grads, ref)


def test_logical_axis_names():
    config = get_model_config("tiny")
    batch = mixed_batch(0, 1, 8)
    boxed = jax.eval_shape(lambda r: Gato(config).init(
        {"params": r, "patch_pos": r}, batch)["params"], jax.random.key(0))
    boxed_leaves = jax.tree.leaves(boxed, is_leaf=lambda x: isinstance(x, nn.Partitioned))
    assert all(isinstance(x, nn.Partitioned) for x in boxed_leaves)
    allowed = {None, "vocab", "embed", "mlp", "heads", "kv", "layers", "patch_in", "positions"}
    specs = nn.get_partition_spec(boxed)
    leaves = jax.tree.leaves(specs, is_leaf=lambda x: isinstance(x, jax.sharding.PartitionSpec))
    assert leaves and all(set(spec) <= allowed for spec in leaves)
    layer_spec = specs["decoder"]["layers"]["mlp_in"]["kernel"]
    assert tuple(layer_spec) == ("layers", "embed", "mlp")


def test_wide_patch_encoder_is_a_strided_stem_then_the_block():
    """patch_channels > 0: the stem equals a patch_stem-strided convolution of the normalized
    pixels, then the ResNet block at that width (GroupNorm of min(32, N) groups), flattened and
    projected; checked against that computation written out with lax convolutions."""
    from gato.model.embed import PatchEncoder
    from gato.tokenizers.image import normalize

    config = get_model_config("tiny", patch_channels=8, patch_stem=4)
    encoder = PatchEncoder(config)
    pixels = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 2)).astype(np.uint8)
    params = nn.unbox(encoder.init(jax.random.key(0), pixels))["params"]
    assert params["stem"]["kernel"].shape == (4 * 4 * 2, 8)
    assert params["conv0"]["kernel"].shape == (3, 3, 8, 8)
    assert params["proj"]["kernel"].shape == (4 * 4 * 8, config.embed_dim)

    def conv(x, kernel, bias, stride, padding):
        return jax.lax.conv_general_dilated(x, kernel, stride, padding,
                                            dimension_numbers=("NHWC", "HWIO", "NHWC")) + bias

    def group_norm(y, p, groups=8):
        g = y.reshape((*y.shape[:3], groups, -1))
        mean, var = g.mean(axis=(1, 2, 4), keepdims=True), g.var(axis=(1, 2, 4), keepdims=True)
        return ((g - mean) / jnp.sqrt(var + 1e-6)).reshape(y.shape) * p["scale"] + p["bias"]

    x = normalize(pixels, jnp.float32)
    stem = params["stem"]["kernel"].reshape((4, 4, 2, 8))
    x = conv(x, stem, params["stem"]["bias"], (4, 4), "VALID")  # [3, 4, 4, 8]
    y = x
    for i in range(2):
        y = jax.nn.gelu(group_norm(y, params[f"norm{i}"]))
        y = conv(y, params[f"conv{i}"]["kernel"], params[f"conv{i}"]["bias"], (1, 1), "SAME")
    want = (x + y).reshape((3, -1)) @ params["proj"]["kernel"] + params["proj"]["bias"]
    got = encoder.apply({"params": params}, pixels)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)

    for bad in ({"patch_stem": 3, "patch_channels": 8}, {"patch_channels": 48},
                {"patch_channels": -1}):
        with pytest.raises(ValueError, match="patch_"):
            get_model_config("tiny", **bad)


@pytest.mark.parametrize("alibi", [False, True])
@pytest.mark.parametrize("window", [None, 3])
def test_blocked_attention_equals_dot_product_attention(alibi, window):
    """blocked_causal_attention in 2, 3, 7 and 9 (> T) query blocks of a 7-token sequence gives
    jax.nn.dot_product_attention's outputs and gradients (causal, ALiBi, local window)."""
    from gato.model.attention import alibi_bias, blocked_causal_attention

    q, k, v = (jax.random.normal(jax.random.PRNGKey(i), (2, 7, 3, 4)) for i in range(3))
    positions = jnp.arange(7)
    bias = alibi_bias((positions[:, None] - positions[None, :])[None, None], 3) if alibi else None

    def reference(q, k, v):
        return jax.nn.dot_product_attention(
            q, k, v, bias=bias, is_causal=True,
            local_window_size=None if window is None else (window - 1, 0))

    def loss(fn):
        return jax.grad(lambda q, k, v: jnp.sum(jnp.sin(fn(q, k, v))), argnums=(0, 1, 2))

    ref_out, ref_grads = reference(q, k, v), loss(reference)(q, k, v)
    for blocks in (2, 3, 7, 9):
        def blocked(q, k, v, blocks=blocks):
            return blocked_causal_attention(q, k, v, blocks, alibi, window)
        np.testing.assert_allclose(blocked(q, k, v), ref_out, atol=1e-6)
        for got, want in zip(loss(blocked)(q, k, v), ref_grads, strict=True):
            np.testing.assert_allclose(got, want, atol=1e-6)


def test_blocked_attention_gives_the_models_logits_and_gradients(setup):
    """ModelConfig.attention_blocks=4 changes how the scores are computed, not the model: the
    same logits (1e-5) and gradients (1e-6) as the single dot_product_attention call."""
    config, batch, params = setup
    config = config.replace(position_bias="alibi")

    def grad(cfg):
        return jax.jit(jax.grad(lambda p: jnp.mean(_logits(cfg, p, batch) ** 2)))(params)

    blocked = config.replace(attention_blocks=4)
    np.testing.assert_allclose(_logits(blocked, params, batch), _logits(config, params, batch),
                               atol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6), grad(blocked),
                 grad(config))
    with pytest.raises(ValueError, match="attention_blocks=0"):
        config.replace(attention_blocks=0)
    with pytest.raises(ValueError, match="attention_blocks=2.*attention_impl='cudnn'"):
        config.replace(attention_blocks=2, attention_impl="cudnn")
