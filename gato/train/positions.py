"""Host-side lists of the positions the train step gathers: loss targets and image patches.

The per-host batch of B rows is split into `groups` contiguous groups of B/groups rows (one per
local batch shard, in the order `jax.make_array_from_process_local_data` places rows on devices);
each group lists flat positions (row within group) * L + i, padded with -1 to a common bucketed
length. Each list is sharded on its leading axis like the rest of the batch, so each device
gathers only from its own rows. Bucketing the length bounds how many shapes, hence compilations,
the train step sees.

  - batch["target_index"] int32 [groups, K]: the loss targets, positions i whose next token
    counts (loss_mask[:, i + 1]); the step projects only these onto the vocabulary.
  - with split actions (train.action_softmax = "range"), batch["target_index"] lists only the
    text targets (K = 0 when there are none) and batch["action_index"] int32 [groups, A] the
    action targets (and return-to-go targets, in models with return tokens), whose softmax runs
    over their own ids alone (`Gato.split_target_logits`).
  - with an observation loss (train.observation_weight > 0, `gato.model.loss.ObservationLoss`)
    the positions whose next token is an observation target are listed too: in
    batch["action_index"] with split actions, else in batch["target_index"].
  - batch["image_index"] int32 [groups, M]: the image-patch positions (modality IMAGE); the
    step runs the patch encoder only on these (`gato.model.embed.TokenEmbed`). M = 0 when the
    batch holds no image, so a control or text batch skips the encoder entirely.
"""

import math
from collections.abc import Sequence

import jax
import numpy as np

from gato.model.loss import observation_targets
from gato.tokenizers.sequence import Modality

TARGET_INDEX = "target_index"
ACTION_INDEX = "action_index"
IMAGE_INDEX = "image_index"


def bucket_size(count: int, capacity: int, buckets: int = 16, minimum: int = 64) -> int:
    """`count` rounded up to a multiple of max(capacity / buckets, minimum), at most capacity.

    capacity: the most positions a group can hold (targets: rows * (L - 1)); at most `buckets`
    sizes occur.
    """
    if count < 0 or count > capacity:
        raise ValueError(f"count {count} is outside [0, {capacity}]")
    step = max(math.ceil(capacity / buckets), minimum)
    return min(max(step * math.ceil(count / step), step), capacity)


def flat_positions(mask: np.ndarray, groups: int, size: int) -> np.ndarray:
    """int32 [groups, size]: each group's flat positions where mask bool [B, L] is set, in
    order, then -1 padding. Raises ValueError if a group has more than `size` (one would be
    dropped)."""
    if mask.ndim != 2 or groups < 1 or mask.shape[0] % groups:
        raise ValueError(f"mask {mask.shape} cannot be split into {groups} groups")
    flat = mask.reshape(groups, -1)
    counts = flat.sum(axis=1)
    if counts.max(initial=0) > size:
        raise ValueError(f"{int(counts.max())} positions in one group exceed size {size}")
    out = np.full((groups, size), -1, np.int32)
    for g, rows in enumerate(flat):
        positions = np.flatnonzero(rows)
        out[g, : len(positions)] = positions
    return out


def _next_counted(loss_mask: np.ndarray) -> np.ndarray:
    """bool [B, L]: position i predicts a counted target (loss_mask[:, i + 1])."""
    counted = np.zeros_like(loss_mask, dtype=bool)
    counted[:, :-1] = loss_mask[:, 1:]
    return counted


def target_index(loss_mask: np.ndarray, groups: int, size: int) -> np.ndarray:
    """int32 [groups, size]: each group's flat target positions in order, then -1 padding.

    Raises ValueError if a group has more than `size` targets (a target would be dropped).
    """
    return flat_positions(_next_counted(loss_mask), groups, size)


def agreed_max(value: int) -> int:
    """The largest `value` over all processes (every host must build the same shapes)."""
    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils

    return int(np.max(multihost_utils.process_allgather(np.array(value, np.int64))))


def _indexed(mask: np.ndarray, groups: int, buckets: int, empty_ok: bool) -> np.ndarray:
    """flat_positions of mask [B, L] with the largest group's count bucketed and agreed across
    hosts; size 0 when no group has one and `empty_ok`."""
    rows, length = mask.shape
    count = int(mask.reshape(groups, -1).sum(axis=1).max(initial=0))
    size = bucket_size(count, rows // groups * (length - 1), buckets) if count or not empty_ok \
        else 0
    return flat_positions(mask, groups, agreed_max(size))


def add_target_index(batch: dict[str, np.ndarray], groups: int, buckets: int = 16,
                     split_actions: bool = False, action_buckets: int = 4,
                     observation_modalities: Sequence[int] = ()) -> dict[str, np.ndarray]:
    """This host's batch plus "target_index" [groups, K]: K bucketed and agreed across hosts.

    split_actions: "target_index" holds the text targets only (K may be 0) and
    "action_index" [groups, A] the action targets (modality DISCRETE or CONTINUOUS), A in
    `action_buckets` sizes (few: padding there costs 2048 output rows, not 33025, per position,
    and every (K, A, M) size triple compiles once).
    observation_modalities: also list the positions whose next token is an observation target
    of these modalities (`gato.model.loss.observation_targets`); empty: Gato's targets only.
    """
    loss_mask = np.asarray(batch["loss_mask"], bool)
    if loss_mask.ndim != 2 or groups < 1 or loss_mask.shape[0] % groups:
        raise ValueError(f"loss_mask {loss_mask.shape} cannot be split into {groups} groups")
    counted = _next_counted(loss_mask)
    if observation_modalities:
        observed = observation_targets(np.asarray(batch["modality"]), loss_mask,
                                       np.asarray(batch["is_action"]),
                                       tuple(observation_modalities))
        counted = counted | _next_counted(observed)
    if not split_actions:
        return batch | {TARGET_INDEX: _indexed(counted, groups, buckets, empty_ok=False)}
    text = np.zeros_like(counted)
    text[:, :-1] = np.asarray(batch["modality"])[:, 1:] == int(Modality.TEXT)
    return batch | {TARGET_INDEX: _indexed(counted & text, groups, buckets, empty_ok=True),
                    ACTION_INDEX: _indexed(counted & ~text, groups, action_buckets,
                                           empty_ok=False)}


class TargetIndexer:
    """Adds "target_index" with K = each batch's own bucket.

    jax.jit keeps one executable per K, so the train step compiles at most `buckets` times (tens
    of seconds each on CPU, when a size first occurs). K is not held at the largest size seen: in
    a mixed batch (text windows have ~40x the targets of control windows) one text-heavy batch
    would make every later step project ~2.5x the average targets onto the vocabulary (main job
    on 2 CPU cores: 2.0 s per step with that high-water mark, 1.4 s without).
    """

    def __init__(self, groups: int, buckets: int = 16, split_actions: bool = False,
                 action_buckets: int = 4, observation_modalities: Sequence[int] = ()):
        self.groups, self.buckets = groups, buckets
        self.split_actions, self.action_buckets = split_actions, action_buckets
        self.observation_modalities = tuple(observation_modalities)
        self.sizes: set[int] = set()  # the K values produced so far (compiled shapes)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = add_target_index(batch, self.groups, self.buckets, self.split_actions,
                               self.action_buckets, self.observation_modalities)
        self.sizes.add(out[TARGET_INDEX].shape[1])
        return out


def add_image_index(batch: dict[str, np.ndarray], groups: int,
                    buckets: int = 4) -> dict[str, np.ndarray]:
    """This host's batch plus "image_index" [groups, M]: M = 0 when no host has an image
    position, else the largest group's count bucketed (multiples of capacity / buckets)."""
    is_image = np.asarray(batch["modality"]) == int(Modality.IMAGE)
    rows, length = is_image.shape
    count = int(is_image.reshape(groups, -1).sum(axis=1).max(initial=0))
    size = bucket_size(count, rows // groups * length, buckets, minimum=1) if count else 0
    return batch | {IMAGE_INDEX: flat_positions(is_image, groups, agreed_max(size))}


class ImageIndexer:
    """Adds "image_index" with M = each batch's own bucket (0: no image, encoder skipped).

    Few buckets, because every (K, M) pair of target and image sizes compiles once: in the
    main job ~90% of windows carry no image, so most batches have M = 0 or the smallest M.
    """

    def __init__(self, groups: int, buckets: int = 4):
        self.groups, self.buckets = groups, buckets
        self.sizes: set[int] = set()  # the M values produced so far

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = add_image_index(batch, self.groups, self.buckets)
        self.sizes.add(out[IMAGE_INDEX].shape[1])
        return out
