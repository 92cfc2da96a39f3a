"""Discrete tokenizer: integer arrays flattened row-major into ids in [0, 1024) (Gato, 2.1).

Discrete ids share the low end of the vocabulary (and so embeddings) with text. Values outside
[0, 1024) or non-integer dtypes raise a ValueError naming the key: never a silent wrap or cast.
"""

from typing import Any

import numpy as np

from gato.tokenizers.vocab import DISCRETE_VOCAB_SIZE


def tokenize(values: Any, key: str = "value") -> np.ndarray:
    """Integer (or bool) array of any shape -> int32 ids [size] in row-major order."""
    values = np.asarray(values)
    if not (np.issubdtype(values.dtype, np.integer) or values.dtype == np.bool_):
        raise ValueError(f"discrete {key!r}: expected an integer dtype, got {values.dtype}")
    flat = values.reshape(-1).astype(np.int64)
    bad = (flat < 0) | (flat >= DISCRETE_VOCAB_SIZE)
    if bad.any():
        raise ValueError(
            f"discrete {key!r}: value {flat[bad][0]} outside [0, {DISCRETE_VOCAB_SIZE})"
        )
    return flat.astype(np.int32)


def cells(values: Any, radix: tuple[int, ...], key: str = "value") -> np.ndarray:
    """Component values [..., K] -> one id per cell [...]: v_0 + r_0 * (v_1 + r_1 * (v_2 ...)),
    K = len(radix) (e.g. BabyAI's object, colour, state: radix (11, 6, 3), ids < 198). A value
    outside [0, r_k) raises a ValueError naming the key, as would a wrong last axis."""
    values = np.asarray(values)
    if values.shape[-1:] != (len(radix),):
        raise ValueError(f"discrete {key!r}: cells of {len(radix)} components (radix {radix}) "
                         f"need a last axis of {len(radix)}, got shape {values.shape}")
    flat = values.astype(np.int64)
    bad = (flat < 0) | (flat >= np.asarray(radix))
    if bad.any():
        raise ValueError(f"discrete {key!r}: component value {flat[bad][0]} outside its radix "
                         f"{radix}")
    weights = np.cumprod((1,) + tuple(radix[:-1]), dtype=np.int64)
    return (flat * weights).sum(-1)


def detokenize(ids: Any, shape: tuple[int, ...], dtype: Any = np.int32) -> np.ndarray:
    """Ids -> integer array of `shape` (exact inverse of `tokenize`)."""
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= DISCRETE_VOCAB_SIZE):
        raise ValueError(f"discrete ids must be in [0, {DISCRETE_VOCAB_SIZE}), got {ids}")
    size = int(np.prod(shape, dtype=np.int64))
    if ids.size != size:
        raise ValueError(f"{ids.size} discrete ids cannot be reshaped to {tuple(shape)}")
    return ids.reshape(shape).astype(dtype)
