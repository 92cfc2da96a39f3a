"""Gato's objective: masked causal next-token cross entropy (Reed et al. 2022, section 2.3).

Logits at position i predict tokens[i + 1]; a target counts only where loss_mask[i + 1] is True
(text and action tokens). Everything is computed in float32.
"""

import jax
import jax.numpy as jnp
import optax

from gato.tokenizers.sequence import Modality

MODALITY_METRICS = {"text": Modality.TEXT, "discrete": Modality.DISCRETE,
                    "continuous": Modality.CONTINUOUS}


def _targets(logits: jax.Array, batch: dict[str, jax.Array]):
    """Per-target cross entropy [B, L-1], weights (0/1) [B, L-1] and correctness [B, L-1]."""
    if logits.ndim != 3 or logits.shape[:2] != batch["tokens"].shape:
        raise ValueError(f"logits {logits.shape} do not match tokens {batch['tokens'].shape}")
    logits = logits[:, :-1].astype(jnp.float32)
    targets = batch["tokens"][:, 1:]
    weights = batch["loss_mask"][:, 1:].astype(jnp.float32)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
    correct = (jnp.argmax(logits, axis=-1) == targets).astype(jnp.float32)
    return ce, weights, correct


def _mean(values: jax.Array, weights: jax.Array) -> jax.Array:
    return jnp.sum(values * weights) / jnp.maximum(jnp.sum(weights), 1.0)


def masked_loss(
    logits: jax.Array, batch: dict[str, jax.Array]
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean cross entropy over counted targets: logits [B,L,V], batch fields [B,L].

    Returns (loss scalar, metrics): "loss", "accuracy" (argmax == target), "targets" (count),
    and per target modality "loss/{text,discrete,continuous}" with "targets/{...}" counts (a
    modality with no targets reports loss 0 and count 0).
    """
    ce, weights, correct = _targets(logits, batch)
    loss = _mean(ce, weights)
    metrics = {"loss": loss, "accuracy": _mean(correct, weights), "targets": jnp.sum(weights)}
    target_modality = batch["modality"][:, 1:].astype(jnp.int32)
    for name, modality in MODALITY_METRICS.items():
        w = weights * (target_modality == modality)
        metrics[f"loss/{name}"] = _mean(ce, w)
        metrics[f"targets/{name}"] = jnp.sum(w)
    return loss, metrics


def per_task_loss(
    logits: jax.Array, batch: dict[str, jax.Array], num_tasks: int
) -> tuple[jax.Array, jax.Array]:
    """Mean loss per task id and counted targets per task id, both [num_tasks] float32.

    Uses batch["task_id"] int32 [B]; tasks without targets in the batch report loss 0, count 0.
    """
    if "task_id" not in batch:
        raise ValueError("per_task_loss needs batch['task_id'] int32 [B]")
    ce, weights, _ = _targets(logits, batch)
    onehot = jax.nn.one_hot(batch["task_id"], num_tasks, dtype=jnp.float32)  # [B, num_tasks]
    sums = onehot.T @ jnp.sum(ce * weights, axis=1)
    counts = onehot.T @ jnp.sum(weights, axis=1)
    return sums / jnp.maximum(counts, 1.0), counts
