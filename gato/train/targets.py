"""Host-side lists of loss-target positions, so the train step projects only those onto the vocab.

A target is a position i whose next token counts (loss_mask[:, i + 1]). The per-host batch of B
rows is split into `groups` contiguous groups of B/groups rows (one per local batch shard, in the
order `jax.make_array_from_process_local_data` places rows on devices); each group lists the flat
positions (row within group) * L + i of its targets, padded with -1 to a common bucketed length K.
The result, batch["target_index"] int32 [groups, K], is sharded on its leading axis like the rest
of the batch, so each device gathers only from its own rows. Bucketing K bounds how many shapes,
hence compilations, the train step sees.
"""

import math

import jax
import numpy as np

TARGET_INDEX = "target_index"


def bucket_size(count: int, capacity: int, buckets: int = 16, minimum: int = 64) -> int:
    """`count` rounded up to a multiple of max(capacity / buckets, minimum), at most capacity.

    capacity: the most targets a group can hold (rows * (L - 1)); at most `buckets` sizes occur.
    """
    if count < 0 or count > capacity:
        raise ValueError(f"target count {count} is outside [0, {capacity}]")
    step = max(math.ceil(capacity / buckets), minimum)
    return min(max(step * math.ceil(count / step), step), capacity)


def group_counts(loss_mask: np.ndarray, groups: int) -> np.ndarray:
    """Targets per group [groups] from loss_mask bool [B, L] (B divisible by groups)."""
    batch_size = loss_mask.shape[0]
    if loss_mask.ndim != 2 or groups < 1 or batch_size % groups:
        raise ValueError(f"loss_mask {loss_mask.shape} cannot be split into {groups} groups")
    return loss_mask[:, 1:].reshape(groups, -1).sum(axis=1)


def target_index(loss_mask: np.ndarray, groups: int, size: int) -> np.ndarray:
    """int32 [groups, size]: each group's flat target positions in order, then -1 padding.

    Raises ValueError if a group has more than `size` targets (a target would be dropped).
    """
    counts = group_counts(loss_mask, groups)
    if counts.max(initial=0) > size:
        raise ValueError(f"{int(counts.max())} targets in one group exceed size {size}")
    batch_size, length = loss_mask.shape
    counted = np.zeros_like(loss_mask, dtype=bool)
    counted[:, :-1] = loss_mask[:, 1:]
    out = np.full((groups, size), -1, np.int32)
    for g, rows in enumerate(counted.reshape(groups, batch_size // groups * length)):
        positions = np.flatnonzero(rows)
        out[g, : len(positions)] = positions
    return out


def agreed_max(value: int) -> int:
    """The largest `value` over all processes (every host must build the same shapes)."""
    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils

    return int(np.max(multihost_utils.process_allgather(np.array(value, np.int64))))


def add_target_index(batch: dict[str, np.ndarray], groups: int,
                     buckets: int = 16) -> dict[str, np.ndarray]:
    """This host's batch plus "target_index" [groups, K]: K bucketed and agreed across hosts."""
    loss_mask = np.asarray(batch["loss_mask"], bool)
    rows, length = loss_mask.shape
    capacity = rows // groups * (length - 1)
    count = int(group_counts(loss_mask, groups).max(initial=0))
    size = agreed_max(bucket_size(count, capacity, buckets))
    return batch | {TARGET_INDEX: target_index(loss_mask, groups, size)}


class TargetIndexer:
    """Adds "target_index" with K = each batch's own bucket.

    jax.jit keeps one executable per K, so the train step compiles at most `buckets` times (tens
    of seconds each on CPU, when a size first occurs). K is not held at the largest size seen: in
    a mixed batch (text windows have ~40x the targets of control windows) one text-heavy batch
    would make every later step project ~2.5x the average targets onto the vocabulary (main job
    on 2 CPU cores: 2.0 s per step with that high-water mark, 1.4 s without).
    """

    def __init__(self, groups: int, buckets: int = 16):
        self.groups, self.buckets = groups, buckets
        self.sizes: set[int] = set()  # the K values produced so far (compiled shapes)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = add_target_index(batch, self.groups, self.buckets)
        self.sizes.add(out[TARGET_INDEX].shape[1])
        return out
