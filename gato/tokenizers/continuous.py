"""Continuous tokenizer: mu-law companding, 1024 uniform bins, ids in [32000, 33024) (Gato, 2.1).

Values are flattened row-major. With `mu_law=True` (observations: proprioception, velocities,
anything not known to lie in [-1, 1]) each value is first companded by
F(x) = sgn(x) log(|x| mu + 1) / log(M mu + 1), mu = 100, M = 256; with `mu_law=False` (actions,
which environments bound to [-1, 1]) values are binned directly. Either way the result is clipped
to [-1, 1] and cut into 1024 uniform bins of width 2/1024, so bin i covers
[-1 + 2i/1024, -1 + 2(i+1)/1024) (1 falls in the last bin). `detokenize` returns bin centres, so
directly-binned values come back within half a bin, 1/1024; companded values come back inside
inverse_mu_law of their bin. The timestep tokenizer uses mu_law=True for continuous observation
keys and mu_law=False for continuous actions; detokenize must be called with the same flag.
NaN or inf raises a ValueError naming the key.
"""

from typing import Any

import numpy as np

from gato.tokenizers.vocab import CONTINUOUS_BINS, CONTINUOUS_OFFSET

MU = 100.0
M = 256.0
BIN_WIDTH = 2.0 / CONTINUOUS_BINS


def mu_law(x: Any, mu: float = MU, m: float = M) -> Any:
    """F(x) = sgn(x) log(|x| mu + 1) / log(M mu + 1); maps [-M, M] onto [-1, 1]."""
    return np.sign(x) * np.log1p(np.abs(x) * mu) / np.log1p(m * mu)


_compand = mu_law  # `tokenize`'s flag of the same name shadows the function


def inverse_mu_law(y: Any, mu: float = MU, m: float = M) -> Any:
    """Inverse of `mu_law` on [-1, 1]: x = sgn(y) ((M mu + 1)^|y| - 1) / mu."""
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(m * mu)) / mu


def bin_centers() -> np.ndarray:
    """float64 [1024]: centre of each bin in the [-1, 1] (companded) domain."""
    return -1.0 + (np.arange(CONTINUOUS_BINS) + 0.5) * BIN_WIDTH


def _as_finite_float(values: Any, key: str) -> np.ndarray:
    values = np.asarray(values)
    if not (np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)):
        raise ValueError(f"continuous {key!r}: expected a real numeric dtype, got {values.dtype}")
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"continuous {key!r}: contains NaN or inf: {values.reshape(-1)}")
    return values


def tokenize(values: Any, mu_law: bool = True, key: str = "value") -> np.ndarray:
    """Real array of any shape -> int32 ids [size] in [32000, 33024), row-major."""
    x = _as_finite_float(values, key).reshape(-1)
    y = np.clip(_compand(x) if mu_law else x, -1.0, 1.0)
    bins = np.floor((y + 1.0) / BIN_WIDTH).astype(np.int64)
    return (np.minimum(bins, CONTINUOUS_BINS - 1) + CONTINUOUS_OFFSET).astype(np.int32)


def detokenize(ids: Any, shape: tuple[int, ...], mu_law: bool = True) -> np.ndarray:
    """Ids -> float32 array of `shape`: bin centres, mapped through inverse_mu_law if mu_law."""
    ids = np.asarray(ids).astype(np.int64)
    lo, hi = CONTINUOUS_OFFSET, CONTINUOUS_OFFSET + CONTINUOUS_BINS
    if ids.size and (ids.min() < lo or ids.max() >= hi):
        raise ValueError(f"continuous ids must be in [{lo}, {hi}), got {ids.reshape(-1)}")
    size = int(np.prod(shape, dtype=np.int64))
    if ids.size != size:
        raise ValueError(f"{ids.size} continuous ids cannot be reshaped to {tuple(shape)}")
    y = bin_centers()[ids - lo]
    x = inverse_mu_law(y) if mu_law else y
    return x.reshape(shape).astype(np.float32)
