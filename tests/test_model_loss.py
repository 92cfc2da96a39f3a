"""Masked next-token loss, per-task loss, and overfitting a fixed mixed-modality batch."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gato.model import get_model_config, masked_loss, per_task_loss
from gato.model.testing import init_params, jit_apply, mixed_batch
from gato.tokenizers.sequence import Modality


def _reference(logits, batch):
    """Loop-based cross entropy over counted targets, per target modality."""
    losses = {"all": [], Modality.TEXT: [], Modality.CONTINUOUS: [], Modality.DISCRETE: []}
    for b in range(logits.shape[0]):
        for i in range(logits.shape[1] - 1):
            if batch["loss_mask"][b, i + 1]:
                row = logits[b, i].astype(np.float64)
                lse = np.log(np.sum(np.exp(row - row.max()))) + row.max()
                ce = lse - row[batch["tokens"][b, i + 1]]
                losses["all"].append(ce)
                losses[int(batch["modality"][b, i + 1])].append(ce)
    return losses


def test_masked_loss_matches_reference():
    batch = mixed_batch(3, 3, 30)
    batch["tokens"][0, 1] = 5
    logits = np.random.default_rng(0).normal(size=(3, 30, 64)).astype(np.float32) * 3
    batch["tokens"] = batch["tokens"] % 64
    loss, metrics = masked_loss(jnp.asarray(logits), batch)
    ref = _reference(logits, batch)
    np.testing.assert_allclose(loss, np.mean(ref["all"]), rtol=1e-5)
    np.testing.assert_allclose(metrics["targets"], len(ref["all"]))
    np.testing.assert_allclose(metrics["loss/text"], np.mean(ref[Modality.TEXT]), rtol=1e-5)
    np.testing.assert_allclose(metrics["loss/continuous"], np.mean(ref[Modality.CONTINUOUS]),
                               rtol=1e-5)
    assert metrics["targets/discrete"] == 0 and metrics["loss/discrete"] == 0
    assert metrics["targets/text"] + metrics["targets/continuous"] == metrics["targets"]


def test_loss_ignores_unmasked_targets_and_first_token():
    batch = mixed_batch(4, 2, 30)
    logits = jnp.asarray(np.random.default_rng(1).normal(size=(2, 30, 33025)), jnp.float32)
    loss, metrics = masked_loss(logits, batch)
    changed = {k: v.copy() for k, v in batch.items()}
    unmasked = ~batch["loss_mask"]
    unmasked[:, 0] = True  # the first token is never a target
    changed["tokens"] = np.where(unmasked, (batch["tokens"] + 1) % 1000, batch["tokens"])
    changed["tokens"][:, 0] = 7
    np.testing.assert_allclose(masked_loss(logits, changed)[0], loss, rtol=1e-6)
    perfect = jax.nn.one_hot(np.roll(batch["tokens"], -1, axis=1), 33025) * 100.0
    _, perfect_metrics = masked_loss(perfect, batch)
    assert perfect_metrics["accuracy"] == 1.0 and perfect_metrics["loss"] < 1e-3
    assert 0.0 <= metrics["accuracy"] < 0.01


def test_per_task_loss():
    batch = mixed_batch(5, 4, 30, num_tasks=2)
    batch["task_id"] = np.array([0, 2, 2, 0], np.int32)
    logits = jnp.asarray(np.random.default_rng(2).normal(size=(4, 30, 33025)), jnp.float32)
    losses, counts = per_task_loss(logits, batch, num_tasks=3)
    assert losses.shape == counts.shape == (3,)
    for task, rows in ((0, [0, 3]), (2, [1, 2])):
        sub = {k: v[rows] for k, v in batch.items()}
        loss, metrics = masked_loss(logits[np.array(rows)], sub)
        np.testing.assert_allclose(losses[task], loss, rtol=1e-5)
        assert counts[task] == metrics["targets"]
    assert counts[1] == 0 and losses[1] == 0
    with pytest.raises(ValueError, match="task_id"):
        per_task_loss(logits, {k: v for k, v in batch.items() if k != "task_id"}, 3)


def test_overfits_fixed_mixed_batch():
    """Text, image, continuous, discrete, separator and action tokens; remat with scanned layers."""
    config = get_model_config("tiny", remat=True)
    batch = {k: jnp.asarray(v) for k, v in mixed_batch(6, 2, 40).items()}
    params = init_params(config)
    tx = optax.adam(3e-3)
    apply = jit_apply(config, train=True)

    @jax.jit
    def step(params, opt_state, rng):
        def loss_fn(p):
            return masked_loss(apply(p, batch, {"patch_pos": rng}), batch)

        (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, metrics

    opt_state = tx.init(params)
    first = None
    for i in range(100):
        params, opt_state, metrics = step(params, opt_state, jax.random.key(i))
        first = metrics if first is None else first
    assert first["loss"] > 5.0
    assert metrics["loss"] < 0.05, metrics
    assert metrics["accuracy"] == 1.0
    assert metrics["targets/text"] > 0 and metrics["targets/continuous"] > 0
