"""Models with return-to-go tokens: config, embedding init, and losses that count return targets."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gato.model import Gato, ModelConfig, get_model_config, masked_loss
from gato.model.loss import range_targets_loss, targets_only_loss
from gato.testing.model import init_params, mixed_batch
from gato.tokenizers.sequence import Modality
from gato.tokenizers.vocab import (
    CONTINUOUS_BINS,
    CONTINUOUS_OFFSET,
    RETURN_BINS,
    RETURN_OFFSET,
    RETURN_VOCAB_SIZE,
    VOCAB_SIZE,
)
from gato.train.positions import add_target_index

CONFIG = get_model_config("tiny", return_tokens=True)


def test_return_tokens_extend_the_vocabulary():
    assert CONFIG.vocab_size == RETURN_VOCAB_SIZE == VOCAB_SIZE + RETURN_BINS
    assert get_model_config("tiny").vocab_size == VOCAB_SIZE
    with pytest.raises(ValueError, match="return_tokens needs vocab_size"):
        ModelConfig(return_tokens=True)


def test_sinusoidal_init_leaves_the_continuous_rows_and_smooths_the_return_rows():
    smooth = {"continuous_embedding_init": "sinusoidal"}
    plain = init_params(get_model_config("tiny", **smooth))["embed"]["table"]["embedding"]
    table = init_params(get_model_config("tiny", return_tokens=True, **smooth))
    table = table["embed"]["table"]["embedding"]
    cont = slice(CONTINUOUS_OFFSET, CONTINUOUS_OFFSET + CONTINUOUS_BINS)
    np.testing.assert_array_equal(table[cont], plain[cont])
    rows = np.array(table[RETURN_OFFSET:RETURN_OFFSET + RETURN_BINS])
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    assert np.mean(np.sum(rows[1:] * rows[:-1], 1)) > 0.9 > np.mean(rows[:60] @ rows[60:].T)


def _batch() -> dict:
    """Mixed rows where each timestep's discrete observation token became a return token (a
    target, modality RETURN) and row 2's actions are discrete."""
    batch = mixed_batch(11, 3, 40, num_tasks=3)
    rng = np.random.default_rng(0)
    ret = (batch["modality"] == Modality.DISCRETE) & ~batch["is_action"]
    batch["modality"][ret] = Modality.RETURN
    batch["tokens"][ret] = RETURN_OFFSET + rng.integers(0, RETURN_BINS, ret.sum())
    batch["loss_mask"][ret], batch["local_pos"][ret] = True, 0
    discrete = batch["is_action"][2] & (batch["modality"][2] == Modality.CONTINUOUS)
    batch["modality"][2][discrete] = Modality.DISCRETE
    batch["tokens"][2][discrete] %= 18
    return batch


def _reference(logits, batch, ranged: bool) -> dict:
    """Mean cross entropy over counted targets from full logits [B, L, V]; with `ranged`, each
    non-text target's softmax over its own ids (discrete, continuous or return range)."""
    logits = np.asarray(logits[:, :-1], np.float64)
    targets, modality = batch["tokens"][:, 1:], batch["modality"][:, 1:]
    spans = {Modality.DISCRETE: (0, 1024),
             Modality.CONTINUOUS: (CONTINUOUS_OFFSET, CONTINUOUS_OFFSET + CONTINUOUS_BINS),
             Modality.RETURN: (RETURN_OFFSET, RETURN_OFFSET + RETURN_BINS)}
    per = {m: [] for m in Modality}
    for b, i in zip(*np.nonzero(batch["loss_mask"][:, 1:]), strict=True):
        m = Modality(int(modality[b, i]))
        lo, hi = spans[m] if ranged and m in spans else (0, logits.shape[-1])
        row = logits[b, i, lo:hi]
        lse = np.log(np.sum(np.exp(row - row.max()))) + row.max()
        per[m].append(lse - row[targets[b, i] - lo])
    out = {"loss": np.mean([v for vs in per.values() for v in vs])}
    for name, m in (("text", Modality.TEXT), ("continuous", Modality.CONTINUOUS),
                    ("return", Modality.RETURN), ("discrete", Modality.DISCRETE)):
        out[f"loss/{name}"], out[f"targets/{name}"] = np.mean(per[m]), len(per[m])
    return out


def test_losses_count_return_targets():
    """Full-vocabulary, targets-only and range losses against a loop over the full logits: the
    return targets count in the loss and have their own metric (loss/return, targets/return);
    the range loss takes their softmax over the 120 return bins."""
    model, params = Gato(CONFIG), init_params(CONFIG)
    rngs = {"patch_pos": jax.random.key(3), "dropout": jax.random.key(4)}
    batch = _batch()
    logits = model.apply({"params": params}, batch, train=True, rngs=rngs)
    assert logits.shape[-1] == RETURN_VOCAB_SIZE
    vocab = _reference(logits, batch, ranged=False)
    assert vocab["targets/return"] == (batch["modality"][:, 1:] == Modality.RETURN).sum() > 5
    _, full = masked_loss(logits, batch)
    indexed = add_target_index(batch, 1)
    _, selected = targets_only_loss(model.apply({"params": params}, indexed, train=True,
                                                rngs=rngs, method=Gato.target_logits), indexed)
    split = add_target_index(batch, 1, split_actions=True)
    text, actions = model.apply({"params": params}, split, train=True, rngs=rngs,
                                method=Gato.split_target_logits)
    assert actions.shape[-1] == 2048 + RETURN_BINS
    _, ranged = range_targets_loss((text, actions), split)
    for want, got in ((vocab, full), (vocab, selected), (_reference(logits, batch, True), ranged)):
        for key, value in want.items():
            np.testing.assert_allclose(got[key], value, rtol=1e-5, err_msg=key)
    # a return target's range loss is below its full-vocabulary loss (mass elsewhere dropped)
    assert ranged["loss/return"] < vocab["loss/return"]
    assert ranged["loss/return"] == pytest.approx(np.log(RETURN_BINS), rel=0.05)


def test_range_loss_learns_the_return_targets():
    """A few steps of the range loss on one batch lower the return targets' loss."""
    model = Gato(CONFIG)
    batch = add_target_index(_batch(), 1, split_actions=True)
    tx = optax.adam(1e-2)

    @jax.jit
    def step(params, opt_state):
        def loss_fn(p):
            logits = model.apply({"params": p}, batch, train=False,
                                 method=Gato.split_target_logits)
            return range_targets_loss(logits, batch)

        (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, metrics

    params = init_params(CONFIG)
    opt_state = tx.init(params)
    losses = []
    for _ in range(30):
        params, opt_state, metrics = step(params, opt_state)
        losses.append(float(metrics["loss/return"]))
    assert losses[-1] < 0.5 * losses[0], losses
    assert jnp.isfinite(metrics["loss"])
