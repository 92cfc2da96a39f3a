"""Prompt conditioning (Gato, Reed et al. 2022, section 3.3).

A fraction of control and Atari windows (default 25%) get a prompt: whole timesteps from another
episode of the same task, prepended to the window. Of the prompted windows a fraction (default half)
take the prompt from the END of that episode (goal conditioning: the prompt shows where a
successful episode finishes); the others take it from a uniformly sampled start. The prompt fills
at most `prompt_tokens` (default seq_len // 4) and the window's own timesteps fill the rest.

Loss choice: prompt tokens stay in the sequence (the model attends to them) but their loss mask is
off. Gato trains only on text and action targets; the prompt's actions belong to another episode and
are given at deployment time, so they are context, not targets. Training on them would also weigh
prompted episodes twice.
"""

import enum

import numpy as np

from gato.data.pipeline import windows
from gato.tokenizers import sequence as seqlib
from gato.tokenizers.spec import TimestepSpec


class PromptKind(enum.IntEnum):
    NONE = 0
    END = 1  # taken from the end of the other episode (goal conditioning)
    UNIFORM = 2  # taken from a uniformly sampled start


def draw_kind(rng: np.random.Generator, fraction: float, end_fraction: float) -> PromptKind:
    """NONE with probability 1 - fraction, else END with probability end_fraction, else UNIFORM."""
    if rng.random() >= fraction:
        return PromptKind.NONE
    return PromptKind.END if rng.random() < end_fraction else PromptKind.UNIFORM


def choose_episode(rng: np.random.Generator, episode_ids: np.ndarray, current: int) -> int:
    """An episode id from `episode_ids` other than `current` (itself if it is the only one)."""
    others = episode_ids[episode_ids != current]
    pool = others if others.size else episode_ids
    return int(pool[rng.integers(pool.size)])


def prompt_window(rng: np.random.Generator, kind: PromptKind, tokenize: windows.EpisodeTokenizer,
                  spec: TimestepSpec, episode: windows.Episode, length: int,
                  budget: int) -> seqlib.TokenSequence:
    """Prompt tokens (loss mask off) of at most `budget` tokens, or an empty sequence.

    The prompt is empty for PromptKind.NONE and when not even one timestep fits in `budget`.
    """
    if kind == PromptKind.NONE or budget < 1:
        return seqlib.empty(0)
    at = length - 1 if kind == PromptKind.END else 0
    _, n_fit = windows.steps_per_budget(tokenize, spec, episode, budget, at=at)
    if n_fit < 1:
        return seqlib.empty(0)
    if kind == PromptKind.END:
        start = max(0, length - n_fit)
    else:
        start = windows.choose_start(rng, length, n_fit)
    seq = windows.episode_window(tokenize, spec, episode, start, budget, length)
    seq["loss_mask"] = np.zeros_like(seq["loss_mask"])
    return seq
