"""Test helpers for the model: small random batches of mixed-modality Gato sequences.

Each row is a short text document followed by control timesteps laid out as the tokenizers do:
observation (image patches, continuous values, discrete values) with local positions 0, 1, ...,
a separator, then continuous action tokens; the rest is padding. Text and action tokens are loss
targets. `init_params` and `jit_apply` are cached per config so that test files share compilations.
"""

import functools
from collections.abc import Callable

import flax.linen as nn
import jax
import numpy as np

from gato.model.build import init_boxed
from gato.model.config import ModelConfig
from gato.model.gato import Gato
from gato.tokenizers import sequence as seqlib
from gato.tokenizers.sequence import Modality
from gato.tokenizers.vocab import CONTINUOUS_BINS, CONTINUOUS_OFFSET, SEPARATOR_ID

PATCHES_PER_IMAGE = 4  # a 32x32 image: 2x2 patches


def _segment(modality: int, tokens: np.ndarray, loss: bool = False,
             action: bool = False) -> seqlib.TokenSequence:
    return seqlib.from_ids(tokens, modality, loss=loss, action=action)


def _image(rng: np.random.Generator) -> seqlib.TokenSequence:
    seg = _segment(Modality.IMAGE, np.zeros(PATCHES_PER_IMAGE, np.int32))
    seg["patches"][:] = rng.integers(0, 256, seg["patches"].shape, dtype=np.uint8)
    for i in range(PATCHES_PER_IMAGE):
        r, c = divmod(i, 2)
        seg["patch_pos"][i] = (r / 2, (r + 1) / 2, c / 2, (c + 1) / 2)
    return seg


def _timestep(rng: np.random.Generator, num_continuous: int, num_actions: int):
    def continuous(n):
        return rng.integers(CONTINUOUS_OFFSET, CONTINUOUS_OFFSET + CONTINUOUS_BINS, n)

    observation = seqlib.concat([
        _image(rng),
        _segment(Modality.CONTINUOUS, continuous(num_continuous)),
        _segment(Modality.DISCRETE, rng.integers(0, 1024, 1)),
    ])
    observation["local_pos"][:] = np.arange(seqlib.length(observation))
    return seqlib.concat([
        observation,
        _segment(Modality.SEPARATOR, np.array([SEPARATOR_ID])),
        _segment(Modality.CONTINUOUS, continuous(num_actions), loss=True, action=True),
    ])


def mixed_sequence(rng: np.random.Generator, length: int, text_len: int = 6,
                   num_continuous: int = 3, num_actions: int = 2) -> seqlib.TokenSequence:
    """One sequence of exactly `length` tokens: text, as many whole timesteps as fit, padding."""
    parts = [_segment(Modality.TEXT, rng.integers(0, 32_000, text_len), loss=True)]
    used = text_len
    while True:
        step = _timestep(rng, num_continuous, num_actions)
        if used + seqlib.length(step) > length:
            break
        parts.append(step)
        used += seqlib.length(step)
    seq = seqlib.pad_to(seqlib.slice_(seqlib.concat(parts), 0, length), length)
    seqlib.validate(seq)
    return seq


def mixed_batch(seed: int, batch_size: int, length: int, num_tasks: int = 2) -> dict:
    """A batch dict of numpy arrays [B, L, ...] plus task_id int32 [B] (deterministic in seed)."""
    rng = np.random.default_rng(seed)
    rows = [mixed_sequence(rng, length) for _ in range(batch_size)]
    batch = {k: np.stack([r[k] for r in rows]) for k in seqlib.FIELDS}
    batch["task_id"] = (np.arange(batch_size) % num_tasks).astype(np.int32)
    return batch


@functools.cache
def init_params(config: ModelConfig, seed: int = 0) -> dict:
    """Unboxed params of `Gato(config)` (cached: treat as read-only)."""
    return nn.meta.unbox(jax.jit(lambda rng: init_boxed(Gato(config), rng))(
        jax.random.key(seed)))


@functools.cache
def jit_apply(config: ModelConfig, train: bool = False, window: int | None = None) -> Callable:
    """Jitted (params, batch, rngs=None) -> logits of `Gato(config)` (cached per arguments)."""
    def apply(params, batch, rngs=None):
        batch = {k: v for k, v in batch.items() if k != "task_id"}
        return Gato(config).apply({"params": params}, batch, train=train, window=window,
                                  rngs=rngs)

    return jax.jit(apply)
