"""The train state and the pure train step (state, batch, rng) -> (state, metrics).

`make_train_step` closes over the model and optimizer and returns a function suitable for
`jax.jit(..., in_shardings, out_shardings, donate_argnums=0)`. Per-step randomness is
`jax.random.fold_in(rng, state.step)`, so a resumed run draws the same dropout/patch-position
noise as an uninterrupted one.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class TrainState(NamedTuple):
    """step: int32 [] (completed updates); params and opt_state: pytrees of arrays."""

    step: jax.Array
    params: Any
    opt_state: Any


def make_train_step(model: Any, tx: optax.GradientTransformation, schedule: optax.Schedule,
                    loss_fn: Callable[..., tuple[jax.Array, dict[str, jax.Array]]],
                    targets_only: bool = False, split_actions: bool = False):
    """Returns train_step(state, batch, rng) -> (new_state, metrics of scalar float32 arrays).

    loss_fn(logits, batch) gets the full logits [B, L, V], or with `targets_only` the logits
    [S, K, V] at batch["target_index"] only (`Gato.target_logits`, `targets_only_loss`), or
    with `split_actions` too the pair (text logits, action-range logits) of
    `Gato.split_target_logits` (`range_targets_loss`).
    Metrics: train/loss and the other loss_fn metrics under train/, train/grad_norm (before
    clipping), train/param_norm (after the update), train/update_norm, train/learning_rate.
    """
    if split_actions and not targets_only:
        raise ValueError("split_actions needs targets_only (logits at the listed targets)")
    method = None
    if targets_only:
        method = type(model).split_target_logits if split_actions else type(model).target_logits

    def compute_loss(params, batch, rng):
        patch_rng, dropout_rng = jax.random.split(rng)
        logits = model.apply({"params": params}, batch, train=True, method=method,
                             rngs={"patch_pos": patch_rng, "dropout": dropout_rng})
        return loss_fn(logits, batch)

    def train_step(state: TrainState, batch: dict[str, jax.Array], rng: jax.Array):
        step_rng = jax.random.fold_in(rng, state.step)
        grad_fn = jax.value_and_grad(compute_loss, has_aux=True)
        (_, aux), grads = grad_fn(state.params, batch, step_rng)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {f"train/{k}": jnp.asarray(v, jnp.float32) for k, v in aux.items()
                   if jnp.ndim(v) == 0}
        metrics |= per_task_metrics(aux) | {
            "train/grad_norm": optax.global_norm(grads),
            "train/param_norm": optax.global_norm(params),
            "train/update_norm": optax.global_norm(updates),
            "train/learning_rate": jnp.asarray(schedule(state.step), jnp.float32),
        }
        return TrainState(state.step + 1, params, opt_state), metrics

    return train_step


def per_task_metrics(aux: dict[str, Any]) -> dict[str, jax.Array]:
    """Flattens a vector `per_task_loss` [num_tasks] metric into train/loss/task_{i} scalars."""
    per_task = aux.get("per_task_loss")
    if per_task is None:
        return {}
    return {f"train/loss/task_{i}": per_task[i].astype(jnp.float32)
            for i in range(per_task.shape[0])}
