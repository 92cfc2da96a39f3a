"""Checksums of checkpointed state: computed on device when a checkpoint is saved, stored in its
`meta` item (so they are committed atomically with it), and compared after every restore.

Orbax 0.12 verifies no array data: its zarr3 layout puts a crc32c on the shard index only, and a
flipped byte in a data file was measured to restore silently as different weights. So each array
leaf gets a 64-bit digest of its values, two position-weighted sums of its bits mod 2^32:

    s1 = sum_i bits_i * (2i + 1),   s2 = sum_i rotl(bits_i, 13) * (i * 0x9E3779B1 | 1)   (uint32)

Integer sums are exact whatever the reduction order, so the digest of a global array is the same
on any mesh, device count or host count, and jit computes it where the shards live (no gather).
The weights are odd and the rotation is a bijection, so any change of one element changes both
sums; other changes go unnoticed with probability about 2^-64 (s2 weighs positions by a hash,
so changes that cancel in s1 do not cancel in it). The digest also records dtype and shape.
The JSON part of `meta` (step, data-iterator state) carries a SHA-256 of its canonical text.
"""

import functools
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

FORMAT = 1  # version of the digests stored in meta["integrity"]


def _bits(x: jax.Array) -> jax.Array:
    """The raw bits of `x` as uint32 (narrow types widened; 8-byte types split in two words)."""
    if x.dtype == jnp.bool_:
        return x.astype(jnp.uint32)
    size = x.dtype.itemsize
    if size >= 4:
        return jax.lax.bitcast_convert_type(x, jnp.uint32)
    return jax.lax.bitcast_convert_type(x, {1: jnp.uint8, 2: jnp.uint16}[size]).astype(jnp.uint32)


def _leaf_digest(x: jax.Array) -> jax.Array:
    """uint32 [2]: the two weighted sums of one array's bits."""
    bits = _bits(x)
    index = jnp.zeros(bits.shape, jnp.uint32)
    stride = 1
    for axis in reversed(range(bits.ndim)):
        index = index + jax.lax.broadcasted_iota(jnp.uint32, bits.shape, axis) * jnp.uint32(
            stride % 2**32)
        stride *= bits.shape[axis]
    u = jnp.uint32
    s1 = jnp.sum(bits * (index * u(2) + u(1)), dtype=u)
    rotated = (bits << u(13)) | (bits >> u(19))
    s2 = jnp.sum(rotated * ((index * u(0x9E3779B1)) | u(1)), dtype=u)
    return jnp.stack([s1, s2])


def _stacked(leaves: list[jax.Array]) -> jax.Array:
    return jnp.stack([_leaf_digest(x) for x in leaves]) if leaves else jnp.zeros((0, 2),
                                                                                 jnp.uint32)


@functools.lru_cache(maxsize=16)
def _digest_fn(out_sharding: Any):
    return jax.jit(_stacked, out_shardings=out_sharding)


def _replicated(leaves: list[Any]) -> Any:
    """A replicated sharding on the leaves' mesh, so every host can read the digests."""
    for leaf in leaves:
        sharding = getattr(leaf, "sharding", None)
        if isinstance(sharding, jax.sharding.NamedSharding):
            return jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec())
    return None


def tree_digests(tree: Any) -> dict[str, str]:
    """{key path: "dtype[shape]:s1:s2"} for every array leaf of `tree` (one jitted pass)."""
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    keys = [jax.tree_util.keystr(path) for path, _ in flat]
    leaves = [jnp.asarray(leaf) if isinstance(leaf, np.ndarray | np.generic | int | float)
              else leaf for _, leaf in flat]
    sums = np.asarray(jax.device_get(_digest_fn(_replicated(leaves))(leaves)))
    return {key: f"{leaf.dtype}{list(leaf.shape)}:{int(s[0]):08x}:{int(s[1]):08x}"
            for key, leaf, s in zip(keys, leaves, sums, strict=True)}


def json_digest(value: Any) -> str:
    """SHA-256 of the canonical JSON text of `value`."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def differences(expected: Mapping[str, str], actual: Mapping[str, str], limit: int = 3) -> str:
    """The first `limit` leaves whose digests differ, as text ("" when all agree)."""
    keys = sorted(set(expected) | set(actual))
    bad = [k for k in keys if expected.get(k) != actual.get(k)]
    shown = ", ".join(f"{k} saved {expected.get(k, 'nothing')}, read {actual.get(k, 'nothing')}"
                      for k in bad[:limit])
    return f"{len(bad)} of {len(keys)} arrays differ: {shown}" if bad else ""
