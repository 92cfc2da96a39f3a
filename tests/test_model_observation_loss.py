"""Observation-token prediction (train.observation_weight, gato.model.loss.ObservationLoss):
which positions count, the loss against a hand computation on a tiny batch, the target-only and
range paths against the full logits, and the trainer's metrics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gato.model import get_model_config, masked_loss
from gato.model.loss import ObservationLoss, observation_targets
from gato.testing.model import init_params, mixed_batch
from gato.tokenizers.sequence import Modality
from gato.tokenizers.vocab import CONTINUOUS_BINS, CONTINUOUS_OFFSET

BOTH = ObservationLoss(0.25)
CONTINUOUS_ONLY = ObservationLoss(0.25, (int(Modality.CONTINUOUS),))


def _batch(length: int = 40) -> dict:
    """Text + control rows (image, continuous and discrete observations, separator, continuous
    actions) and a padding row."""
    batch = mixed_batch(11, 4, length, num_tasks=2)
    for key in ("loss_mask", "is_action", "tokens", "modality"):
        batch[key][2] = 0
    return batch


def test_observation_targets_are_the_listed_observation_tokens_only():
    batch = _batch()
    modality, action = batch["modality"], batch["is_action"]
    flags = observation_targets(modality, batch["loss_mask"], action, BOTH.modalities)
    want = ((modality == Modality.CONTINUOUS) | (modality == Modality.DISCRETE)) & ~action
    np.testing.assert_array_equal(flags, want)
    assert flags.sum() > 0 and not flags[2].any()  # the padding row has none
    for never in (Modality.IMAGE, Modality.SEPARATOR, Modality.TEXT, Modality.PAD):
        assert not flags[modality == never].any()
    assert not flags[action].any() and not flags[batch["loss_mask"]].any()
    only = observation_targets(modality, batch["loss_mask"], action, CONTINUOUS_ONLY.modalities)
    np.testing.assert_array_equal(only, want & (modality == Modality.CONTINUOUS))
    jax_flags = observation_targets(jnp.asarray(modality, jnp.int32),
                                    jnp.asarray(batch["loss_mask"]), jnp.asarray(action),
                                    BOTH.modalities)
    np.testing.assert_array_equal(np.asarray(jax_flags), want)


def _hand_loss(logits: np.ndarray, batch: dict, observation: ObservationLoss) -> dict:
    """Loop over positions: log-softmax over the whole vocabulary, float64."""
    gato, observed = [], []
    flags = observation_targets(batch["modality"], batch["loss_mask"], batch["is_action"],
                                observation.modalities)
    for b in range(logits.shape[0]):
        for i in range(logits.shape[1] - 1):
            row = logits[b, i].astype(np.float64)
            ce = np.log(np.exp(row - row.max()).sum()) + row.max() - row[batch["tokens"][b, i + 1]]
            if batch["loss_mask"][b, i + 1]:
                gato.append(ce)
            elif flags[b, i + 1]:
                observed.append(ce)
    return {"gato": np.mean(gato), "observation": np.mean(observed), "count": len(observed),
            "loss": np.mean(gato) + observation.weight * np.mean(observed)}


@pytest.mark.parametrize("observation", [BOTH, CONTINUOUS_ONLY], ids=["both", "continuous"])
def test_masked_loss_adds_the_weighted_observation_mean(observation):
    batch = _batch(30)
    logits = np.random.default_rng(0).normal(size=(4, 30, 33025)).astype(np.float32) * 2
    loss, metrics = masked_loss(jnp.asarray(logits), batch, observation=observation)
    want = _hand_loss(logits, batch, observation)
    np.testing.assert_allclose(loss, want["loss"], rtol=1e-5)
    np.testing.assert_allclose(metrics["loss"], want["loss"], rtol=1e-5)
    np.testing.assert_allclose(metrics["loss/observation"], want["observation"], rtol=1e-5)
    assert metrics["targets/observation"] == want["count"] > 0
    gato_loss, gato_metrics = masked_loss(jnp.asarray(logits), batch)  # off: Gato's objective
    np.testing.assert_allclose(gato_loss, want["gato"], rtol=1e-5)
    assert "loss/observation" not in gato_metrics
    for key in ("loss/continuous", "targets/continuous", "loss/text", "targets", "accuracy"):
        np.testing.assert_allclose(metrics[key], gato_metrics[key], rtol=1e-6, err_msg=key)
    zero, _ = masked_loss(jnp.asarray(logits), batch, observation=ObservationLoss(0.0))
    np.testing.assert_allclose(zero, gato_loss, rtol=1e-7)


def _range_reference(logits: jax.Array, batch: dict, observation: ObservationLoss) -> jax.Array:
    """Each target's softmax over its own range: text over the vocabulary, discrete over
    [0, 1024), continuous over the 1024 bins; Gato mean + weight * observation mean."""
    logits = logits[:, :-1].astype(jnp.float32)
    targets, modality = batch["tokens"][:, 1:], batch["modality"][:, 1:]
    ce_text = -jnp.take_along_axis(jax.nn.log_softmax(logits), targets[..., None], -1)[..., 0]
    disc = jax.nn.log_softmax(logits[..., :1024])
    ce_disc = -jnp.take_along_axis(disc, jnp.clip(targets, 0, 1023)[..., None], -1)[..., 0]
    cont = jax.nn.log_softmax(logits[..., CONTINUOUS_OFFSET:CONTINUOUS_OFFSET + CONTINUOUS_BINS])
    bins = jnp.clip(targets - CONTINUOUS_OFFSET, 0, CONTINUOUS_BINS - 1)
    ce_cont = -jnp.take_along_axis(cont, bins[..., None], -1)[..., 0]
    ce = jnp.where(modality == Modality.DISCRETE, ce_disc,
                   jnp.where(modality == Modality.CONTINUOUS, ce_cont, ce_text))
    gato = jnp.asarray(batch["loss_mask"][:, 1:], jnp.float32)
    observed = jnp.asarray(observation_targets(
        batch["modality"], batch["loss_mask"], batch["is_action"],
        observation.modalities)[:, 1:], jnp.float32)
    return (jnp.sum(ce * gato) / jnp.sum(gato)
            + observation.weight * jnp.sum(ce * observed) / jnp.sum(observed))


def test_target_only_and_range_paths_equal_the_full_logits():
    """The trainer's two position-list paths, with observation targets listed by
    `add_target_index`: loss and grads equal the full-logit computations (1 and 2 groups)."""
    from gato.model import Gato
    from gato.model.loss import range_targets_loss, targets_only_loss
    from gato.train.positions import add_target_index

    config = get_model_config("tiny")
    model, params = Gato(config), init_params(config)
    rngs = {"patch_pos": jax.random.key(3), "dropout": jax.random.key(4)}
    batch = _batch()

    def apply(p, b, method=None):
        return model.apply({"params": p}, b, train=True, rngs=rngs, method=method)

    def full(p, b):
        return masked_loss(apply(p, b), b, observation=BOTH)

    def full_range(p, b):
        return _range_reference(apply(p, b), b, BOTH)

    def selected(p, b):
        return targets_only_loss(apply(p, b, Gato.target_logits), b, observation=BOTH)

    def ranged(p, b):
        return range_targets_loss(apply(p, b, Gato.split_target_logits), b, observation=BOTH)

    (loss, metrics), grads = jax.jit(jax.value_and_grad(full, has_aux=True))(params, batch)
    range_loss, range_grads = jax.jit(jax.value_and_grad(full_range))(params, batch)
    flags = observation_targets(batch["modality"], batch["loss_mask"], batch["is_action"],
                                BOTH.modalities)
    for groups in (1, 2):
        indexed = add_target_index(batch, groups, observation_modalities=BOTH.modalities)
        assert (indexed["target_index"] >= 0).sum() == batch["loss_mask"][:, 1:].sum() + \
            flags[:, 1:].sum()
        (t_loss, t_metrics), t_grads = jax.jit(jax.value_and_grad(selected, has_aux=True))(
            params, indexed)
        np.testing.assert_allclose(t_loss, loss, rtol=1e-5)
        for key in ("loss/observation", "targets/observation", "loss/continuous", "targets"):
            np.testing.assert_allclose(t_metrics[key], metrics[key], rtol=1e-5, err_msg=key)
        for g, t in zip(jax.tree.leaves(grads), jax.tree.leaves(t_grads), strict=True):
            np.testing.assert_allclose(t, g, rtol=1e-4, atol=1e-6)
        split = add_target_index(batch, groups, split_actions=True,
                                 observation_modalities=BOTH.modalities)
        (r_loss, r_metrics), r_grads = jax.jit(jax.value_and_grad(ranged, has_aux=True))(
            params, split)
        np.testing.assert_allclose(r_loss, range_loss, rtol=1e-5)
        assert r_metrics["targets/observation"] == flags[:, 1:].sum()
        for g, r in zip(jax.tree.leaves(range_grads), jax.tree.leaves(r_grads), strict=True):
            np.testing.assert_allclose(r, g, rtol=1e-4, atol=1e-6)


def test_index_lists_no_observation_target_when_off_and_never_a_padding_target():
    from gato.train.positions import add_target_index

    batch = _batch()
    plain = add_target_index(batch, 1)
    off = add_target_index(batch, 1, observation_modalities=())
    np.testing.assert_array_equal(plain["target_index"], off["target_index"])
    listed = add_target_index(batch, 1, observation_modalities=BOTH.modalities)["target_index"]
    positions = listed[listed >= 0]
    rows, cols = np.divmod(positions, batch["tokens"].shape[1])
    nxt = batch["modality"][rows, cols + 1]
    assert not np.isin(nxt, [Modality.PAD, Modality.IMAGE, Modality.SEPARATOR]).any()


def test_trainer_reports_the_observation_term_and_refuses_bad_settings(tmp_path):
    from gato.testing import train as testing
    from gato.train.loop import train_and_evaluate

    small = ["train.total_steps=2", "train.seq_len=32", "train.log_every=1",
             "train.checkpoint_every=100", "train.peak_flops_per_device=1e9",
             "model.overrides={'num_layers': 1}", "train.action_softmax='range'"]
    train_and_evaluate(testing.tiny_config(*small), tmp_path / "off")
    train_and_evaluate(testing.tiny_config(*small, "train.observation_weight=0.5"), tmp_path / "on")
    rows = {name: [r for r in testing.read_jsonl(tmp_path / name / "metrics.jsonl")
                   if "train/loss" in r] for name in ("off", "on")}
    off, on = rows["off"][0], rows["on"][0]
    assert "train/loss/observation" not in off
    assert on["train/targets/observation"] > 0 and np.isfinite(on["train/loss/observation"])
    assert on["train/targets"] == off["train/targets"]  # Gato's targets are the same
    np.testing.assert_allclose(on["train/loss/continuous"], off["train/loss/continuous"],
                               rtol=1e-5)  # same params at step 1: same action loss
    np.testing.assert_allclose(on["train/loss"], off["train/loss"]
                               + 0.5 * on["train/loss/observation"], rtol=1e-5)
    for bad, match in (("train.observation_weight=-1.0", "observation_weight"),
                       ("train.observation_kinds='image'", "observation_kinds")):
        with pytest.raises(ValueError, match=match):
            train_and_evaluate(testing.tiny_config(*small, bad), tmp_path / "bad")
