"""Masked next-token loss, per-task loss, and overfitting a fixed mixed-modality batch."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gato.model import get_model_config, masked_loss, per_task_loss
from gato.testing.model import init_params, jit_apply, mixed_batch
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


def _targets_batch(length: int = 40) -> dict:
    """Mixed rows (text + control), a row where every next token is a target, a padding row."""
    batch = mixed_batch(7, 4, length, num_tasks=3)
    batch["loss_mask"][1] = True  # all L-1 targets
    batch["modality"][1] = Modality.TEXT
    batch["tokens"][1] = np.arange(length) * 7 % 32_000
    for key in ("loss_mask", "is_action", "tokens"):
        batch[key][3] = 0  # padding: no targets
    return batch


def test_targets_only_loss_metrics_and_grads_equal_full_logits():
    """One target group (one device) and two (two batch shards), against the full logits."""
    from gato.model import Gato
    from gato.model.loss import targets_only_loss
    from gato.train.positions import add_target_index

    config = get_model_config("tiny")
    model, params = Gato(config), init_params(config)
    rngs = {"patch_pos": jax.random.key(3), "dropout": jax.random.key(4)}

    def full(p, batch):
        logits = model.apply({"params": p}, batch, train=True, rngs=rngs)
        loss, metrics = masked_loss(logits, batch)
        return loss, metrics | {"per_task_loss": per_task_loss(logits, batch, 3)[0]}

    def targets(p, batch):
        logits = model.apply({"params": p}, batch, train=True, rngs=rngs,
                             method=Gato.target_logits)
        return targets_only_loss(logits, batch, num_tasks=3)

    batch = _targets_batch()
    (loss, metrics), grads = jax.jit(jax.value_and_grad(full, has_aux=True))(params, batch)
    assert metrics["targets"] == 39 + np.sum(batch["loss_mask"][[0, 2], 1:])
    targets_grad = jax.jit(jax.value_and_grad(targets, has_aux=True))
    for groups in (1, 2):
        with_index = add_target_index(batch, groups)
        assert with_index["target_index"].shape[0] == groups
        (t_loss, t_metrics), t_grads = targets_grad(params, with_index)
        assert set(t_metrics) == set(metrics)
        for key, value in metrics.items():
            np.testing.assert_allclose(t_metrics[key], value, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{key}, {groups} groups")
        np.testing.assert_allclose(t_loss, loss, rtol=1e-6)
        for g, t in zip(jax.tree.leaves(grads), jax.tree.leaves(t_grads), strict=True):
            np.testing.assert_allclose(t, g, rtol=1e-4, atol=1e-6)


def _range_reference(logits, batch, label_sigma=0.0):
    """Loss (and per-modality losses) from full logits [B, L, V] with each action target's
    softmax over its own range: discrete ids [0, 1024), continuous bins [32000, 33024)."""
    from gato.tokenizers.vocab import CONTINUOUS_BINS, CONTINUOUS_OFFSET

    logits = logits[:, :-1].astype(jnp.float32)
    targets, modality = batch["tokens"][:, 1:], batch["modality"][:, 1:]
    weights = jnp.asarray(batch["loss_mask"][:, 1:], jnp.float32)
    cont = logits[..., CONTINUOUS_OFFSET:CONTINUOUS_OFFSET + CONTINUOUS_BINS]
    ce_text = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
    ce_disc = optax.softmax_cross_entropy_with_integer_labels(
        logits[..., :1024], jnp.clip(targets, 0, 1023))
    bin_ = jnp.clip(targets - CONTINUOUS_OFFSET, 0, CONTINUOUS_BINS - 1)
    if label_sigma > 0:
        bins = jnp.arange(CONTINUOUS_BINS)
        label = jax.nn.softmax(-0.5 * ((bins - bin_[..., None]) / label_sigma) ** 2, axis=-1)
        ce_cont = -jnp.sum(label * jax.nn.log_softmax(cont, axis=-1), axis=-1)
    else:
        ce_cont = optax.softmax_cross_entropy_with_integer_labels(cont, bin_)
    ce = jnp.where(modality == Modality.DISCRETE, ce_disc,
                   jnp.where(modality == Modality.CONTINUOUS, ce_cont, ce_text))
    out = {"loss": jnp.sum(ce * weights) / jnp.sum(weights)}
    for name, m in (("text", Modality.TEXT), ("discrete", Modality.DISCRETE),
                    ("continuous", Modality.CONTINUOUS)):
        w = weights * (modality == m)
        out[f"loss/{name}"] = jnp.sum(ce * w) / jnp.maximum(jnp.sum(w), 1.0)
    return out


@pytest.mark.parametrize("label_sigma", [0.0, 4.0])
def test_range_loss_is_each_targets_softmax_over_its_own_range(label_sigma):
    """train.action_softmax = "range": text targets over the vocabulary, discrete and continuous
    action targets over their own 1024 ids; loss, metrics and grads against a reference on the
    full logits (1 and 2 target groups), and a batch without text (no text targets: K = 0)."""
    from gato.model import Gato
    from gato.model.loss import range_targets_loss
    from gato.train.positions import add_target_index

    config = get_model_config("tiny")
    model, params = Gato(config), init_params(config)
    rngs = {"patch_pos": jax.random.key(3), "dropout": jax.random.key(4)}
    batch = _targets_batch()
    discrete = batch["is_action"][2] & (batch["modality"][2] == Modality.CONTINUOUS)
    batch["modality"][2][discrete] = Modality.DISCRETE  # row 2: discrete actions (ids 0..17)
    batch["tokens"][2][discrete] = batch["tokens"][2][discrete] % 18

    def reference(p, batch):
        out = _range_reference(model.apply({"params": p}, batch, train=True, rngs=rngs), batch,
                               label_sigma)
        return out["loss"], out

    def ranged(p, batch):
        logits = model.apply({"params": p}, batch, train=True, rngs=rngs,
                             method=Gato.split_target_logits)
        return range_targets_loss(logits, batch, num_tasks=3, label_sigma=label_sigma)

    ranged_grad = jax.jit(jax.value_and_grad(ranged, has_aux=True))
    reference_grad = jax.jit(jax.value_and_grad(reference, has_aux=True))
    no_text = {k: v[[0, 2, 3]] for k, v in batch.items()}
    text = no_text["modality"] == Modality.TEXT  # each row's leading text: now observations
    no_text["modality"][text], no_text["loss_mask"][text] = Modality.CONTINUOUS, False
    no_text["tokens"][text] = 32_000 + no_text["tokens"][text] % 1024
    for case, groups in ((batch, 1), (batch, 2), (no_text, 1)):
        (loss, want), grads = reference_grad(params, case)
        indexed = add_target_index(case, groups, split_actions=True)
        texts = int((case["loss_mask"][:, 1:] & (case["modality"][:, 1:] == Modality.TEXT)).sum())
        assert (indexed["target_index"] >= 0).sum() == texts
        assert (indexed["action_index"] >= 0).sum() == case["loss_mask"][:, 1:].sum() - texts
        assert texts or indexed["target_index"].shape[1] == 0
        (r_loss, metrics), r_grads = ranged_grad(params, indexed)
        np.testing.assert_allclose(r_loss, loss, rtol=1e-5)
        for key, value in want.items():
            np.testing.assert_allclose(metrics[key], value, rtol=1e-5, atol=1e-6, err_msg=key)
        assert metrics["targets"] == case["loss_mask"][:, 1:].sum()
        for g, r in zip(jax.tree.leaves(grads), jax.tree.leaves(r_grads), strict=True):
            np.testing.assert_allclose(r, g, rtol=1e-4, atol=1e-6)
    assert metrics["targets/discrete"] > 0 and metrics["targets/text"] == 0
    full_vocab, _ = masked_loss(jit_apply(config)(params, batch), batch, label_sigma)
    assert _range_reference(jit_apply(config)(params, batch), batch, label_sigma)["loss"] < \
        full_vocab  # the range softmax is not Gato's (the mass outside the range is dropped)


def test_target_index_lists_every_target_and_buckets_bound_shapes():
    from gato.train.positions import add_target_index, bucket_size, target_index

    batch = _targets_batch(length=200)
    rows, length = batch["loss_mask"].shape
    index = add_target_index(batch, groups=2)["target_index"]
    capacity = rows // 2 * (length - 1)
    assert index.shape[1] == bucket_size(199 + batch["loss_mask"][0, 1:].sum(), capacity)
    listed = set()
    for g in range(2):
        for flat in index[g][index[g] >= 0]:
            listed.add((g * rows // 2 + int(flat) // length, int(flat) % length))
    expected = set(map(tuple, np.argwhere(batch["loss_mask"][:, 1:]).tolist()))
    assert listed == expected
    assert (index[1] == -1).sum() == index.shape[1] - batch["loss_mask"][2, 1:].sum()
    sizes = {bucket_size(n, capacity, buckets=16, minimum=1) for n in range(capacity + 1)}
    assert len(sizes) <= 16 and max(sizes) == capacity
    assert all(bucket_size(n, capacity) >= n for n in range(capacity + 1))
    with pytest.raises(ValueError, match="exceed size"):
        target_index(batch["loss_mask"], groups=1, size=10)


def test_target_indexer_buckets_each_batch_and_stays_exact():
    from gato.train.positions import TargetIndexer

    full = _targets_batch(length=200)
    sparse = {k: v.copy() for k, v in full.items()}
    sparse["loss_mask"][1] = False
    indexer = TargetIndexer(groups=1, buckets=16)
    sizes = [indexer(b)["target_index"].shape[1] for b in (sparse, full, sparse)]
    assert sizes[0] == sizes[2] < sizes[1] and indexer.sizes == {sizes[0], sizes[1]}
    index = indexer(sparse)["target_index"][0]
    assert np.array_equal(index[index >= 0], np.flatnonzero(
        np.pad(sparse["loss_mask"][:, 1:], ((0, 0), (0, 1)))))


def test_image_index_gives_the_full_encoders_loss_and_grads():
    """The patch encoder at listed image positions only (1 and 2 groups, and a batch with no
    image: M = 0) gives the loss and grads of encoding every position."""
    from gato.model import Gato
    from gato.train.positions import add_image_index, bucket_size

    config = get_model_config("tiny")
    model, params = Gato(config), init_params(config)
    rngs = {"patch_pos": jax.random.key(3), "dropout": jax.random.key(4)}

    def loss(p, batch):
        return masked_loss(model.apply({"params": p}, batch, train=True, rngs=rngs), batch)[0]

    grad = jax.jit(jax.value_and_grad(loss))
    with_images = _targets_batch()
    with_images["modality"][2] = Modality.CONTINUOUS  # group 1 of 2 has fewer images
    no_images = _targets_batch()
    no_images["modality"][no_images["modality"] == Modality.IMAGE] = Modality.CONTINUOUS
    for batch in (with_images, no_images):
        is_image = batch["modality"] == Modality.IMAGE
        full_loss, full_grads = grad(params, batch)
        for groups in (1, 2):
            index = add_image_index(batch, groups)["image_index"]
            count = is_image.reshape(groups, -1).sum(axis=1).max()
            assert index.shape == (groups, bucket_size(count, is_image.size // groups, 4, 1)
                                   if count else 0)
            listed = {(g * 4 // groups + int(f) // 40, int(f) % 40)
                      for g in range(groups) for f in index[g][index[g] >= 0]}
            assert listed == set(map(tuple, np.argwhere(is_image).tolist()))
            i_loss, i_grads = grad(params, batch | {"image_index": index})
            np.testing.assert_allclose(i_loss, full_loss, rtol=1e-6)
            for g, t in zip(jax.tree.leaves(full_grads), jax.tree.leaves(i_grads), strict=True):
                np.testing.assert_allclose(t, g, rtol=1e-4, atol=1e-6)
    assert (with_images["modality"] == Modality.IMAGE).sum() > 0


def test_gaussian_labels_for_continuous_targets_only():
    """label_sigma > 0: continuous targets' loss is the cross entropy to a Gaussian over the
    1024 bins (numpy reference); other targets keep the one-hot loss; both loss paths agree."""
    from gato.model import Gato
    from gato.model.loss import cross_entropy, targets_only_loss
    from gato.tokenizers.vocab import CONTINUOUS_BINS, CONTINUOUS_OFFSET
    from gato.train.positions import add_target_index

    vocab = 33_025
    logits = np.asarray(jax.random.normal(jax.random.key(0), (4, vocab)), np.float32) * 2.0
    targets = np.array([5, CONTINUOUS_OFFSET, CONTINUOUS_OFFSET + 500,
                        CONTINUOUS_OFFSET + CONTINUOUS_BINS - 1], np.int32)
    one_hot = np.asarray(cross_entropy(jnp.asarray(logits), jnp.asarray(targets)))
    soft = np.asarray(cross_entropy(jnp.asarray(logits), jnp.asarray(targets), label_sigma=4.0))
    wide = logits.astype(np.float64)
    log_probs = wide - np.log(np.exp(wide).sum(-1, keepdims=True))
    continuous = log_probs[:, CONTINUOUS_OFFSET:CONTINUOUS_OFFSET + CONTINUOUS_BINS]
    np.testing.assert_allclose(one_hot, -log_probs[np.arange(4), targets], rtol=1e-5)
    assert soft[0] == one_hot[0]
    bins = np.arange(CONTINUOUS_BINS)
    for i in (1, 2, 3):
        label = np.exp(-0.5 * ((bins - (targets[i] - CONTINUOUS_OFFSET)) / 4.0) ** 2)
        label /= label.sum()
        np.testing.assert_allclose(soft[i], -(label * continuous[i]).sum(), rtol=1e-5)
        assert soft[i] != pytest.approx(one_hot[i])

    config = get_model_config("tiny")
    params, batch = init_params(config), _targets_batch()
    logits = jit_apply(config)(params, batch)
    full, _ = masked_loss(logits, batch, label_sigma=4.0)
    assert full != pytest.approx(masked_loss(logits, batch)[0])
    indexed = add_target_index(batch, groups=1)
    picked = Gato(config).apply({"params": params}, indexed, method=Gato.target_logits)
    np.testing.assert_allclose(targets_only_loss(picked, indexed, label_sigma=4.0)[0], full,
                               rtol=1e-5)
