"""Token sequences: the one data structure between tokenizers, data pipeline, model and evaluator.

A `TokenSequence` is a dict of numpy arrays that all share the leading length axis `n` (a batch
adds a leading `B`). Fields:

    tokens     int32 [n]              token id (see `vocab`); 0 for image patches and padding
    modality   int8  [n]              a `Modality` value
    loss_mask  bool  [n]              True where this token is a training target: text tokens,
                                      action tokens and return-to-go tokens (the model predicts
                                      token i from tokens < i)
    is_action  bool  [n]              True on action tokens (they share one learned position code)
    local_pos  int32 [n]              index of the token inside its timestep's observation
                                      (0, 1, 2, ...); 0 on separator, action, text and padding
    patches    uint8 [n, 16, 16, 3]   raw RGB pixels of the patch on image tokens, 0 elsewhere; the
                                      model normalizes with `gato.tokenizers.image.normalize`
    patch_pos  float32 [n, 4]         (row_lo, row_hi, col_lo, col_hi): the patch's normalized row
                                      and column interval in [0, 1]; 0 on non-image tokens

Raw uint8 pixels keep windows 4x smaller than float patches and exactly reproducible.
"""

import enum
from collections.abc import Sequence

import numpy as np

from gato.tokenizers.vocab import IMAGE_CHANNELS, PATCH_SIZE

TokenSequence = dict[str, np.ndarray]


class Modality(enum.IntEnum):
    PAD = 0
    TEXT = 1
    IMAGE = 2
    DISCRETE = 3
    CONTINUOUS = 4
    SEPARATOR = 5
    RETURN = 6  # a return-to-go token (`gato.tokenizers.returns`)


FIELDS: dict[str, tuple[tuple[int, ...], type]] = {
    "tokens": ((), np.int32),
    "modality": ((), np.int8),
    "loss_mask": ((), np.bool_),
    "is_action": ((), np.bool_),
    "local_pos": ((), np.int32),
    "patches": ((PATCH_SIZE, PATCH_SIZE, IMAGE_CHANNELS), np.uint8),
    "patch_pos": ((4,), np.float32),
}


def empty(n: int) -> TokenSequence:
    """A sequence of `n` padding tokens (modality PAD, no loss)."""
    return {name: np.zeros((n, *shape), dtype) for name, (shape, dtype) in FIELDS.items()}


def from_ids(ids: np.ndarray, modality: Modality, *, loss: bool = False,
             action: bool = False) -> TokenSequence:
    """Tokens `ids` [n] of one (non-image) modality with the given loss and action flags."""
    seq = empty(len(ids))
    seq["tokens"][:] = ids
    seq["modality"][:] = modality
    seq["loss_mask"][:] = loss
    seq["is_action"][:] = action
    return seq


def length(seq: TokenSequence) -> int:
    return int(seq["tokens"].shape[0])


def concat(seqs: Sequence[TokenSequence]) -> TokenSequence:
    """Concatenates sequences along the token axis."""
    if not seqs:
        return empty(0)
    return {name: np.concatenate([s[name] for s in seqs], axis=0) for name in FIELDS}


def slice_(seq: TokenSequence, start: int, stop: int) -> TokenSequence:
    return {name: seq[name][start:stop] for name in FIELDS}


def pad_to(seq: TokenSequence, n: int) -> TokenSequence:
    """Right-pads `seq` with padding tokens to length `n`; raises if it is longer."""
    have = length(seq)
    if have > n:
        raise ValueError(f"sequence of {have} tokens does not fit in {n}")
    return concat([seq, empty(n - have)])


def validate(seq: TokenSequence) -> None:
    """Raises ValueError if a field is missing or has the wrong dtype or shape."""
    n = length(seq)
    for name, (shape, dtype) in FIELDS.items():
        if name not in seq:
            raise ValueError(f"token sequence is missing field {name!r}")
        arr = seq[name]
        if arr.dtype != dtype or arr.shape != (n, *shape):
            raise ValueError(
                f"field {name!r}: expected {np.dtype(dtype).name}{(n, *shape)}, "
                f"got {arr.dtype.name}{arr.shape}"
            )
