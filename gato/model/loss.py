"""Gato's objective: masked causal next-token cross entropy (Reed et al. 2022, section 2.3).

Logits at position i predict tokens[i + 1]; a target counts only where loss_mask[i + 1] is True
(text and action tokens). Everything is computed in float32.

Two equal ways to compute it: `masked_loss(logits [B, L, V], batch)` from full logits, and
`targets_only_loss(logits [S, K, V], batch)` from logits at the K target positions listed in
batch["target_index"] int32 [S, K] (see `gather_positions`), which skips the output projection
and softmax at the positions that are not targets (most of them in control and Atari windows).

`range_targets_loss((text [S, K, V], actions [S, A, 2048]), batch)` is the variant of
train.action_softmax = "range": text targets as above, each action target's softmax over its
own range only (discrete ids [0, 1024) or the 1024 continuous bins), the range the agent
samples from; the A action positions then read 2048 rows of the output layer, not all 33025.
Not Gato's objective (its action softmax spans the whole vocabulary), and not equal to it.

Return-to-go targets (modality RETURN, models with `ModelConfig.return_tokens`) are targets like
actions: in the full-vocabulary losses their softmax spans the vocabulary, in the range loss it
spans the 120 return bins (`RETURN_COLUMNS`, after the action columns: [S, A, 2168] logits, where
A lists the action and return targets). Their loss is reported as "loss/return" beside the
other modalities' (`MODALITY_METRICS`).

`label_sigma` > 0 (bins) replaces the one-hot target of a continuous token by a Gaussian over
the 1024 continuous bins centred on it (HL-Gauss, Farebrother et al. 2024, "Stop Regressing"):
the bins are ordered values, so a prediction one bin off is nearly right, and every target
teaches the neighbourhood of its bin, not one of 1024 classes. 0 is Gato's objective. The
reported losses are then the cross entropy to that target (its entropy is the floor).

`ObservationLoss` (off by default: Gato's objective) also makes the observation tokens of the
listed modalities targets, as JAT does (Gallouedec et al. 2024, weight 0.005): position i
predicts observation token i + 1, the next timestep's first observation token included. The
objective is then mean(CE over Gato's targets) + weight * mean(CE over observation targets), two
means so that the weight means the same whatever the counts; "loss/observation" and
"targets/observation" report the second term, and the per-modality action metrics
("loss/continuous", ...) keep counting Gato's targets only. Image patches are embeddings, not
tokens, so they are never observation targets. Inside a window every observation target is
predicted from the same episode's past, except the body's first token after a demonstration
prompt, which is predicted from the prompt (another episode of the same task): a plausible
observation of the task, as in Gato's packed sequences, not a leak of the target.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gato.tokenizers.sequence import Modality
from gato.tokenizers.vocab import (
    CONTINUOUS_BINS,
    CONTINUOUS_OFFSET,
    DISCRETE_VOCAB_SIZE,
    RETURN_BINS,
    RETURN_OFFSET,
)

MODALITY_METRICS = {"text": Modality.TEXT, "discrete": Modality.DISCRETE,
                    "continuous": Modality.CONTINUOUS, "return": Modality.RETURN}
# the id ranges [lo, hi) of action logits in `range_targets_loss`, in column order
ACTION_COLUMNS = ((0, DISCRETE_VOCAB_SIZE),
                  (CONTINUOUS_OFFSET, CONTINUOUS_OFFSET + CONTINUOUS_BINS))
RETURN_COLUMNS = (RETURN_OFFSET, RETURN_OFFSET + RETURN_BINS)  # after them, with return tokens
# the target modality each column group of `range_columns` serves, in the same order
_RANGE_MODALITIES = (Modality.DISCRETE, Modality.CONTINUOUS, Modality.RETURN)
_OUT_OF_RANGE = -1e9  # logit of the other modality's columns (finite: no inf * 0 in gradients)


@dataclasses.dataclass(frozen=True)
class ObservationLoss:
    """Observation-token prediction (module docstring): weight 0 turns it off.

    modalities: the observation token modalities that are targets (Modality.CONTINUOUS,
    Modality.DISCRETE; text observation tokens and images are not).
    """

    weight: float = 0.0
    modalities: tuple[int, ...] = (int(Modality.CONTINUOUS), int(Modality.DISCRETE))

    def __post_init__(self):
        if self.weight < 0:
            raise ValueError(f"observation loss weight must be >= 0, got {self.weight}")
        allowed = {int(Modality.CONTINUOUS), int(Modality.DISCRETE)}
        if not set(self.modalities) <= allowed:
            raise ValueError(f"observation loss modalities {self.modalities}: expected some of "
                             f"{sorted(allowed)} (continuous, discrete)")

    @property
    def enabled(self) -> bool:
        return self.weight > 0 and bool(self.modalities)


NO_OBSERVATION_LOSS = ObservationLoss()


def observation_targets(modality, loss_mask, is_action, modalities: tuple[int, ...]):
    """bool [B, L]: token j is an observation target (modality in `modalities`, not an action,
    not a Gato target); works on numpy and jax arrays alike."""
    xp = jnp if isinstance(modality, jax.Array) else np
    hit = xp.zeros(modality.shape, bool)
    for m in modalities:
        hit = hit | (modality == m)
    return hit & ~is_action.astype(bool) & ~loss_mask.astype(bool)


def range_columns(return_tokens: bool) -> tuple[tuple[int, int], ...]:
    """The id ranges [lo, hi) of the range softmax's logits, in column order: the action
    ranges, then the return bins when the model has return tokens."""
    return ACTION_COLUMNS + ((RETURN_COLUMNS,) if return_tokens else ())


def cross_entropy(logits: jax.Array, targets: jax.Array, label_sigma: float = 0.0,
                  continuous_offset: int = CONTINUOUS_OFFSET) -> jax.Array:
    """Cross entropy [...] of logits [..., V] float32 to integer targets [...]; continuous
    targets (columns [continuous_offset, + 1024)) get the Gaussian label of std `label_sigma`
    bins when it is > 0 (module docstring)."""
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
    if label_sigma <= 0:
        return ce
    lo, hi = continuous_offset, continuous_offset + CONTINUOUS_BINS
    bins = jnp.arange(CONTINUOUS_BINS, dtype=jnp.float32)
    centre = (targets - lo).astype(jnp.float32)[..., None]
    label = jax.nn.softmax(-0.5 * ((bins - centre) / label_sigma) ** 2, axis=-1)
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    soft = -jnp.sum(label * log_probs[..., lo:hi], axis=-1)
    return jnp.where((targets >= lo) & (targets < hi), soft, ce)


def _targets(logits: jax.Array, batch: dict[str, jax.Array], label_sigma: float = 0.0,
             observation: ObservationLoss = NO_OBSERVATION_LOSS):
    """Per-target cross entropy, weights (0/1), correctness and observation-target flags (0/1),
    each [B, L-1]."""
    if logits.ndim != 3 or logits.shape[:2] != batch["tokens"].shape:
        raise ValueError(f"logits {logits.shape} do not match tokens {batch['tokens'].shape}")
    logits = logits[:, :-1].astype(jnp.float32)
    targets = batch["tokens"][:, 1:]
    weights = batch["loss_mask"][:, 1:].astype(jnp.float32)
    ce = cross_entropy(logits, targets, label_sigma)
    correct = (jnp.argmax(logits, axis=-1) == targets).astype(jnp.float32)
    return ce, weights, correct, _observed(batch, observation)[:, 1:]


def _observed(batch: dict[str, jax.Array], observation: ObservationLoss) -> jax.Array:
    """float32 [B, L]: token j is an observation target of `observation` (0 when it is off)."""
    if not observation.enabled:
        return jnp.zeros(batch["tokens"].shape, jnp.float32)
    return observation_targets(batch["modality"].astype(jnp.int32), batch["loss_mask"],
                               batch["is_action"], observation.modalities).astype(jnp.float32)


def _mean(values: jax.Array, weights: jax.Array) -> jax.Array:
    return jnp.sum(values * weights) / jnp.maximum(jnp.sum(weights), 1.0)


def _metrics(ce: jax.Array, weights: jax.Array, correct: jax.Array, target_modality: jax.Array,
             observed: jax.Array | None = None, observation: ObservationLoss = NO_OBSERVATION_LOSS
             ) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Loss and metrics from per-target arrays of any one shape (ce, 0/1 weights, ..., 0/1
    observation-target flags)."""
    loss = _mean(ce, weights)
    metrics = {"accuracy": _mean(correct, weights), "targets": jnp.sum(weights)}
    for name, modality in MODALITY_METRICS.items():
        w = weights * (target_modality == modality)
        metrics[f"loss/{name}"] = _mean(ce, w)
        metrics[f"targets/{name}"] = jnp.sum(w)
    if observation.enabled and observed is not None:
        metrics["loss/observation"] = _mean(ce, observed)
        metrics["targets/observation"] = jnp.sum(observed)
        loss = loss + observation.weight * metrics["loss/observation"]
    return loss, {"loss": loss, **metrics}


def masked_loss(
    logits: jax.Array, batch: dict[str, jax.Array], label_sigma: float = 0.0,
    observation: ObservationLoss = NO_OBSERVATION_LOSS
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean cross entropy over counted targets: logits [B,L,V], batch fields [B,L].

    Returns (loss scalar, metrics): "loss", "accuracy" (argmax == target), "targets" (count),
    and per target modality "loss/{text,discrete,continuous}" with "targets/{...}" counts (a
    modality with no targets reports loss 0 and count 0). label_sigma, observation: see the
    module docstring (with an observation loss, "loss" includes its weighted term and
    "loss/observation" is reported; batch then needs "is_action").
    """
    ce, weights, correct, observed = _targets(logits, batch, label_sigma, observation)
    return _metrics(ce, weights, correct, batch["modality"][:, 1:].astype(jnp.int32), observed,
                    observation)


def per_task_loss(
    logits: jax.Array, batch: dict[str, jax.Array], num_tasks: int, label_sigma: float = 0.0
) -> tuple[jax.Array, jax.Array]:
    """Mean loss per task id and counted targets per task id, both [num_tasks] float32.

    Uses batch["task_id"] int32 [B]; tasks without targets in the batch report loss 0, count 0.
    """
    if "task_id" not in batch:
        raise ValueError("per_task_loss needs batch['task_id'] int32 [B]")
    ce, weights, _, _ = _targets(logits, batch, label_sigma)
    onehot = jax.nn.one_hot(batch["task_id"], num_tasks, dtype=jnp.float32)  # [B, num_tasks]
    sums = onehot.T @ jnp.sum(ce * weights, axis=1)
    counts = onehot.T @ jnp.sum(weights, axis=1)
    return sums / jnp.maximum(counts, 1.0), counts


def gather_positions(x: jax.Array, index: jax.Array) -> jax.Array:
    """Rows of x [B, L, ...] at flat positions: index int32 [S, K] -> [S, K, ...].

    The batch is split into S contiguous groups of B/S rows (one per batch shard, so the gather
    stays on each shard's device); index[s, k] = (row within group s) * L + position, or -1 for
    padding (which reads position 0 of the group; callers give it weight 0).
    """
    if index.ndim != 2 or x.shape[0] % index.shape[0]:
        raise ValueError(f"target_index {index.shape} must be [S, K] with S dividing the batch "
                         f"size of {x.shape}")
    groups = index.shape[0]
    flat = x.reshape(groups, x.shape[0] // groups * x.shape[1], *x.shape[2:])
    safe = jnp.maximum(index, 0).reshape(*index.shape, *([1] * (x.ndim - 2)))
    return jnp.take_along_axis(flat, safe, axis=1)


def _next(field: jax.Array) -> jax.Array:
    """field [B, L] shifted left by one (the value at i + 1 sits at i; the last is zero)."""
    return jnp.concatenate([field[:, 1:], jnp.zeros_like(field[:, :1])], axis=1)


def _gather_next(batch: dict[str, jax.Array], index: jax.Array,
                 observation: ObservationLoss = NO_OBSERVATION_LOSS):
    """(next token ids, weights float32, next token modality int32, observation-target flags
    float32), each [S, K], at the positions index [S, K]; padding entries (-1) weigh 0."""
    tokens = gather_positions(_next(batch["tokens"]), index)
    counted = gather_positions(_next(batch["loss_mask"]), index)
    weights = ((index >= 0) & counted.astype(bool)).astype(jnp.float32)
    modality = gather_positions(_next(batch["modality"]).astype(jnp.int32), index)
    observed = gather_positions(_next(_observed(batch, observation)), index)
    return tokens, weights, modality, jnp.where(index >= 0, observed, 0.0)


def _selected_targets(logits: jax.Array, batch: dict[str, jax.Array], label_sigma: float,
                      observation: ObservationLoss = NO_OBSERVATION_LOSS):
    """Cross entropy, weights, correctness, target modality and observation-target flags, each
    [S, K], of logits [S, K, V] at batch["target_index"]."""
    index = batch["target_index"]
    if logits.ndim != 3 or logits.shape[:2] != index.shape:
        raise ValueError(f"logits {logits.shape} do not match target_index {index.shape}")
    logits = logits.astype(jnp.float32)
    targets, weights, modality, observed = _gather_next(batch, index, observation)
    ce = cross_entropy(logits, targets, label_sigma)
    correct = (jnp.argmax(logits, axis=-1) == targets).astype(jnp.float32)
    return ce, weights, correct, modality, observed


def _action_targets(logits: jax.Array, batch: dict[str, jax.Array], label_sigma: float,
                    observation: ObservationLoss = NO_OBSERVATION_LOSS):
    """As `_selected_targets` for range logits [S, A, C] (`range_columns`: C = 2048, or 2168
    with return bins) at batch["action_index"]: each target's softmax over the columns of its
    own modality (discrete, continuous or return); observation targets listed there too."""
    index = batch["action_index"]
    columns = [c for c in (range_columns(False), range_columns(True))
               if logits.ndim == 3 and logits.shape[2] == sum(hi - lo for lo, hi in c)]
    if not columns or logits.shape[:2] != index.shape:
        raise ValueError(f"action logits {logits.shape} do not match action_index {index.shape}")
    columns = columns[0]
    tokens, weights, modality, observed = _gather_next(batch, index, observation)
    widths = [hi - lo for lo, hi in columns]
    starts = np.cumsum([0, *widths[:-1]])
    # a target's column group (0 for padding, whose weight is 0)
    group = jnp.zeros_like(modality)
    for g, m in enumerate(_RANGE_MODALITIES[:len(columns)]):
        group = jnp.where(modality == int(m), g, group)
    lo = jnp.asarray([c[0] for c in columns])[group]
    width = jnp.asarray(widths)[group]
    # clipped: a padding entry (index -1) reads position 0, which may hold any id (weight 0)
    targets = jnp.asarray(starts)[group] + jnp.clip(tokens - lo, 0, width - 1)
    column_group = np.repeat(np.arange(len(columns)), widths)
    logits = jnp.where(column_group == group[..., None], logits.astype(jnp.float32),
                       _OUT_OF_RANGE)
    ce = cross_entropy(logits, targets, label_sigma, continuous_offset=int(starts[1]))
    correct = (jnp.argmax(logits, axis=-1) == targets).astype(jnp.float32)
    return ce, weights, correct, modality, observed


def _loss_and_metrics(per_target: tuple[jax.Array, ...], batch: dict[str, jax.Array],
                      index: jax.Array, num_tasks: int,
                      observation: ObservationLoss = NO_OBSERVATION_LOSS
                      ) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Loss and metrics from per-target (ce, weights, correct, modality, observed) [S, K] at
    index [S, K]; with num_tasks > 0 also "per_task_loss" [num_tasks] (as `per_task_loss`, over
    Gato's targets)."""
    ce, weights, correct, modality, observed = per_target
    loss, metrics = _metrics(ce, weights, correct, modality, observed, observation)
    if num_tasks > 0:
        if "task_id" not in batch:
            raise ValueError("a loss with num_tasks > 0 needs batch['task_id'] [B]")
        rows = jnp.broadcast_to(batch["task_id"][:, None], batch["tokens"].shape)
        task = jax.nn.one_hot(gather_positions(rows, index), num_tasks,
                              dtype=jnp.float32)  # [S, K, num_tasks]
        sums = jnp.einsum("skt,sk->t", task, ce * weights)
        counts = jnp.einsum("skt,sk->t", task, weights)
        metrics["per_task_loss"] = sums / jnp.maximum(counts, 1.0)
    return loss, metrics


def targets_only_loss(
    logits: jax.Array, batch: dict[str, jax.Array], num_tasks: int = 0, label_sigma: float = 0.0,
    observation: ObservationLoss = NO_OBSERVATION_LOSS
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """`masked_loss` from logits [S, K, V] at batch["target_index"] [S, K] (same metrics).

    With num_tasks > 0 the metrics also hold "per_task_loss" [num_tasks], as `per_task_loss`.
    A listed position that is not a target (loss_mask[i + 1] False, and not an observation
    target) is ignored.
    """
    return _loss_and_metrics(_selected_targets(logits, batch, label_sigma, observation), batch,
                             batch["target_index"], num_tasks, observation)


def range_targets_loss(
    logits: tuple[jax.Array, jax.Array], batch: dict[str, jax.Array], num_tasks: int = 0,
    label_sigma: float = 0.0, observation: ObservationLoss = NO_OBSERVATION_LOSS
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean cross entropy over the text targets (full logits [S, K, V] at
    batch["target_index"]) and the action (and return) targets (logits [S, A, 2048 or 2168] at
    batch["action_index"], softmax over the target's own range); the metrics of
    `targets_only_loss`. Observation targets are listed in batch["action_index"] and take the
    range softmax of their modality."""
    text_logits, action_logits = logits
    text = _selected_targets(text_logits, batch, label_sigma, observation)
    action = _action_targets(action_logits, batch, label_sigma, observation)
    per_target = tuple(jnp.concatenate(pair, axis=1) for pair in zip(text, action, strict=True))
    index = jnp.concatenate([batch["target_index"], batch["action_index"]], axis=1)
    return _loss_and_metrics(per_target, batch, index, num_tasks, observation)
