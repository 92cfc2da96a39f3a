"""Windows: episodes and documents -> fixed-length token windows.

Episode windows are made of whole timesteps: a window starts at a timestep boundary (a start
timestep drawn from the example's generator, so it is a pure function of (seed, index)) and takes
as many whole timesteps as fit in the token budget; the rest is padding (modality PAD, loss off).
Starts are drawn from [0, T - n_fit] so windows are full whenever the episode is long enough. When a
single timestep is longer than the budget (e.g. an Atari frame in a tiny test window), its last
`budget` tokens are kept: the separator and action tokens, the only loss targets, are at its end.

With return-to-go tokens (the task's spec has `returns`) each timestep's return-to-go is summed
over the whole episode's rewards (`gato.tokenizers.returns.return_to_go`) before the window is
cut, so a window anywhere in an episode carries what was still to come. Likewise stacked frames
(`spec.frame_stack`) read the frames before the window's start.

Text documents are tokenized with their BOS/EOS (as the text tokenizer defines), concatenated in
corpus order and cut into consecutive `seq_len` chunks (the last one padded).
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gato.errors import GatoError
from gato.tokenizers import sequence as seqlib
from gato.tokenizers.returns import return_to_go
from gato.tokenizers.spec import TimestepSpec
from gato.tokenizers.timestep import observation_steps

Episode = Mapping[str, Any]
# (spec, observations {key: [T, ...]}, actions [T, ...]) -> TokenSequence, as in
# gato.tokenizers.timestep.tokenize_episode; a spec with return tokens is called with the
# return-to-go [T] as a fourth argument.
EpisodeTokenizer = Callable[..., seqlib.TokenSequence]

_KIND_DTYPES = {
    "image": ("u",),
    "discrete": ("i", "u", "b"),
    "continuous": ("f", "i", "u", "b"),
    "text": ("U", "S", "O", "i", "u"),
}


class BadEpisodeError(GatoError, ValueError):
    """An episode that cannot be read or does not match its task's TimestepSpec."""


def validate_episode(spec: TimestepSpec, episode: Episode) -> int:
    """Checks an episode against `spec`; returns how many timesteps windows may use.

    That is T, or T - 1 when the last step is flagged is_last: in the RLDS layout it holds the
    final observation and a placeholder zero action that was never taken, not a training target.
    Raises BadEpisodeError naming the offending key.
    """
    for field in ("observation", "action"):
        if field not in episode:
            raise BadEpisodeError(f"missing field {field!r} (has {sorted(episode)})")
    actions = np.asarray(episode["action"])
    length = int(actions.shape[0]) if actions.ndim else 0
    if length < 1:
        raise BadEpisodeError(f"empty episode (action shape {actions.shape})")
    want = (length, *spec.action_shape)
    if actions.shape != want:
        raise BadEpisodeError(f"action shape {actions.shape}, spec wants {want}")
    kinds = ("i", "u", "b") if spec.action_kind == "discrete" else ("f",)
    if actions.dtype.kind not in kinds:
        raise BadEpisodeError(f"{spec.action_kind} action has dtype {actions.dtype}")
    observation = episode["observation"]
    for key in spec.observation_keys:
        if key not in observation:
            raise BadEpisodeError(f"observation key {key!r} missing (has {sorted(observation)})")
        value = np.asarray(observation[key])
        kind = spec.observation[key]
        if value.ndim == 0 or value.shape[0] != length:
            raise BadEpisodeError(f"observation {key!r} shape {value.shape}, expected T={length}")
        if value.dtype.kind not in _KIND_DTYPES[kind]:
            raise BadEpisodeError(f"{kind} observation {key!r} has dtype {value.dtype}")
        if kind == "image" and value.ndim not in (3, 4):
            raise BadEpisodeError(
                f"image observation {key!r} shape {value.shape} is not [T,H,W(,C)]")
    if spec.returns is not None and np.shape(episode.get("reward", ())) != (length,):
        raise BadEpisodeError(f"return tokens need rewards [T={length}], got shape "
                              f"{np.shape(episode.get('reward', ()))}")
    is_last = np.asarray(episode.get("is_last", np.zeros(length, bool)))
    return length - 1 if length > 1 and is_last.shape == (length,) and is_last[-1] else length


def timestep_ends(seq: seqlib.TokenSequence) -> np.ndarray:
    """Token offsets just past each timestep (the end of each run of action tokens), int [n_t]."""
    act = seq["is_action"]
    return np.flatnonzero(act & ~np.append(act[1:], False)) + 1


def _tokenize_steps(tokenize: EpisodeTokenizer, spec: TimestepSpec, episode: Episode,
                    start: int, stop: int) -> seqlib.TokenSequence:
    observation = episode["observation"]
    obs = observation_steps(spec, {key: observation[key] for key in spec.observation_keys},
                            start, stop)
    actions = np.asarray(episode["action"])[start:stop]
    if spec.returns is None:
        return tokenize(spec, obs, actions)
    return tokenize(spec, obs, actions, return_to_go(episode["reward"])[start:stop])


def steps_per_budget(tokenize: EpisodeTokenizer, spec: TimestepSpec, episode: Episode,
                     budget: int, at: int = 0) -> tuple[int, int]:
    """(tokens in timestep `at`, whole timesteps of that size fitting in `budget`)."""
    per_step = seqlib.length(_tokenize_steps(tokenize, spec, episode, at, at + 1))
    if per_step < 1:
        raise BadEpisodeError(f"timestep {at} tokenized to no tokens")
    return per_step, budget // per_step


def episode_window(tokenize: EpisodeTokenizer, spec: TimestepSpec, episode: Episode,
                   start: int, budget: int, length: int) -> seqlib.TokenSequence:
    """Whole timesteps of `episode` from `start` filling at most `budget` tokens (unpadded)."""
    per_step, n_fit = steps_per_budget(tokenize, spec, episode, budget, at=start)
    stop = min(length, start + max(n_fit, 1))
    seq = _tokenize_steps(tokenize, spec, episode, start, stop)
    n = seqlib.length(seq)
    if n <= budget:
        return seq
    ends = timestep_ends(seq)
    ends = ends[ends <= budget]
    if ends.size:
        return seqlib.slice_(seq, 0, int(ends[-1]))
    first_end = int(timestep_ends(seq)[0]) if timestep_ends(seq).size else n
    return seqlib.slice_(seq, max(0, first_end - budget), first_end)


def choose_start(rng: np.random.Generator, length: int, n_fit: int) -> int:
    """A start timestep uniform in [0, T - n_fit] (0 if the whole episode fits)."""
    return int(rng.integers(0, max(0, length - max(n_fit, 1)) + 1))


class TextChunks:
    """Documents packed into consecutive `seq_len`-token chunks; random access by chunk index."""

    _SCALAR_FIELDS = ("tokens", "modality", "loss_mask", "is_action", "local_pos")

    def __init__(self, documents: Sequence[seqlib.TokenSequence], seq_len: int):
        if seq_len < 1:
            raise ValueError(f"seq_len must be >= 1, got {seq_len}")
        docs = [d for d in documents if seqlib.length(d)]
        if not docs:
            raise ValueError("no non-empty text documents to pack")
        for i, doc in enumerate(docs):
            if doc["patches"].any() or doc["patch_pos"].any():
                raise ValueError(f"text document {i} carries image patches")
        self.seq_len = seq_len
        self._fields = {f: np.concatenate([d[f] for d in docs]) for f in self._SCALAR_FIELDS}
        self.num_tokens = int(self._fields["tokens"].shape[0])

    def __len__(self) -> int:
        return -(-self.num_tokens // self.seq_len)

    def chunk(self, index: int) -> seqlib.TokenSequence:
        """Chunk `index` as a TokenSequence of exactly seq_len tokens (the last one padded)."""
        if not 0 <= index < len(self):
            raise IndexError(f"text chunk {index} out of range [0, {len(self)})")
        lo, hi = index * self.seq_len, min((index + 1) * self.seq_len, self.num_tokens)
        out = seqlib.empty(hi - lo)
        for field in self._SCALAR_FIELDS:
            out[field] = self._fields[field][lo:hi].copy()
        return seqlib.pad_to(out, self.seq_len)
