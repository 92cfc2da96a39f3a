"""Timestep tokenizer: observations, a separator and actions as one TokenSequence (Gato, 2.1-2.2).

Layout of one timestep (n_obs observation tokens, then 1 + prod(action_shape) tokens):

    [obs key 1 tokens][obs key 2 tokens]...[SEPARATOR][action tokens]
    local_pos  0 .. n_obs-1                    0          0 ...
    loss_mask  False                            False      True ...
    is_action  False                            False      True ...

With return-to-go tokens (`spec.returns`, see `gato.tokenizers.returns`) one more token, a loss
target of modality RETURN (local_pos 0, not an action), sits after the observation
("after_observation": [obs][RETURN][SEPARATOR][actions]) or before it ("before_observation":
[RETURN][obs][SEPARATOR][actions]); its value is the return-to-go given per timestep.

Observations are (nested) dicts; they are flattened to "/"-joined key paths, must have exactly the
spec's keys, and are tokenized in lexicographic path order. Per kind: "image" -> one token per
16x16 patch (id 0, modality IMAGE, raw pixels in `patches`); "discrete" -> ids in [0, 1024)
(with `spec.cells`, one id per cell of a key in `spec.cell_radix`: `discrete.cells`);
"continuous" -> mu-law bins in [32000, 33024); "text" -> SentencePiece ids (modality TEXT, no
loss: only actions are targets inside timesteps; documents carry the text loss). Continuous
actions are binned without mu-law (they lie in [-1, 1]; values outside are clipped), so decoded
actions are within 1/1024 of the originals. Errors name the offending key.

With `spec.frame_stack` > 1 a grayscale image key shows the episode's last frames in its patches'
channels (`gato.tokenizers.image.stack_frames`): callers turn an episode's observations into
stacked ones with `observation_steps` (which reads the frames before a window's start) and the
tokenizers refuse an unstacked frame, so no path can silently show one frame where training
showed several.
"""

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gato.tokenizers import continuous, discrete, image, returns, sequence
from gato.tokenizers.sequence import Modality, TokenSequence
from gato.tokenizers.spec import TimestepSpec
from gato.tokenizers.text import default_tokenizer
from gato.tokenizers.vocab import (
    CONTINUOUS_BINS,
    CONTINUOUS_OFFSET,
    IMAGE_CHANNELS,
    PATCH_SIZE,
    SEPARATOR_ID,
)


def flatten(observation: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> {"a/b": leaf}; leaves are anything that is not a Mapping."""
    if not isinstance(observation, Mapping):
        raise TypeError(f"observation must be a dict, got {type(observation).__name__}")
    flat: dict[str, Any] = {}
    for name, value in observation.items():
        path = f"{prefix}{name}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, prefix=f"{path}/"))
        else:
            flat[path] = value
    return flat


def _check_keys(spec: TimestepSpec, flat: Mapping[str, Any]) -> None:
    missing = sorted(set(spec.observation) - set(flat))
    extra = sorted(set(flat) - set(spec.observation))
    if missing or extra:
        raise ValueError(f"observation keys do not match the spec: missing {missing}, "
                         f"unexpected {extra}")


def observation_steps(spec: TimestepSpec, observations: Mapping[str, Any], start: int = 0,
                      stop: int | None = None) -> dict[str, np.ndarray]:
    """Steps [start, stop) of an episode's (nested) observations {key: [T, ...]} as the
    tokenizers take them: flattened key paths, each sliced; with spec.frame_stack > 1 each image
    key is stacked with the frames before it (`image.stack_frames`), reading frames before
    `start`, so a window's tokens do not depend on where it was cut."""
    flat = flatten(observations)
    _check_keys(spec, flat)
    out = {}
    for key, value in flat.items():
        if spec.frame_stack > 1 and spec.observation[key] == "image":
            out[key] = image.stack_frames(value, spec.frame_stack, start, stop, key,
                                          spec.frame_motion)
        else:
            out[key] = np.asarray(value)[start:stop]
    return out


def _check_stacked(spec: TimestepSpec, flat: Mapping[str, Any]) -> None:
    """With frame stacking, image keys must come stacked (IMAGE_CHANNELS), not as one frame."""
    if spec.frame_stack == 1:
        return
    for key, kind in spec.observation.items():
        if kind == "image" and np.shape(flat[key])[-1] != IMAGE_CHANNELS:
            raise ValueError(f"image {key!r}: the spec has frame_stack={spec.frame_stack}, so "
                             f"frames come stacked into 3 channels (gato.tokenizers.timestep."
                             f"observation_steps), got shape {np.shape(flat[key])}")


def _cells(spec: TimestepSpec, key: str, value: Any) -> Any:
    """A discrete key's values with its cells combined when the spec says so (`spec.cells`)."""
    radix = spec.radix(key)
    return value if radix is None else discrete.cells(value, radix, key)


def _ids(ids: np.ndarray, modality: Modality) -> TokenSequence:
    seq = sequence.empty(len(ids))
    seq["tokens"][:] = ids
    seq["modality"][:] = modality
    return seq


def _image(value: Any, key: str) -> TokenSequence:
    patches, patch_pos = image.patchify(value, key)
    seq = sequence.empty(len(patches))
    seq["modality"][:] = Modality.IMAGE
    seq["patches"][:] = patches
    seq["patch_pos"][:] = patch_pos
    return seq


def _text(value: Any, key: str) -> TokenSequence:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if not isinstance(value, str):
        raise ValueError(f"text {key!r}: expected str, got {type(value).__name__}")
    return default_tokenizer().tokenize_text(value, loss=False)


OBSERVATION_TOKENIZERS: dict[str, Callable[[Any, str], TokenSequence]] = {
    "image": _image,
    "discrete": lambda v, k: _ids(discrete.tokenize(v, key=k), Modality.DISCRETE),
    "continuous": lambda v, k: _ids(continuous.tokenize(v, mu_law=True, key=k),
                                    Modality.CONTINUOUS),
    "text": _text,
}


def tokenize_observation(spec: TimestepSpec, observation: Mapping[str, Any]) -> TokenSequence:
    """Observation tokens in key-path order, local_pos 0..n_obs-1, no loss."""
    flat = flatten(observation)
    _check_keys(spec, flat)
    _check_stacked(spec, flat)
    seq = sequence.concat([OBSERVATION_TOKENIZERS[spec.observation[k]](_cells(spec, k, flat[k]), k)
                           for k in spec.observation_keys])
    seq["local_pos"][:] = np.arange(sequence.length(seq), dtype=np.int32)
    seq["loss_mask"][:] = False
    return seq


def _action_ids(spec: TimestepSpec, actions: Any, steps: int) -> np.ndarray:
    """Actions of `steps` timesteps -> int32 ids [steps * action_size], row-major."""
    actions = np.asarray(actions)
    if actions.size != steps * spec.action_size:
        per_step = f"{steps} x " if steps != 1 else ""
        raise ValueError(f"action: expected shape {per_step}{spec.action_shape} "
                         f"({spec.action_size} values per step), got shape {actions.shape}")
    if spec.action_kind == "discrete":
        ids = discrete.tokenize(actions, key="action")
        if ids.size and ids.max() >= spec.num_actions:
            raise ValueError(f"action: value {ids.max()} outside [0, {spec.num_actions})")
        return ids
    return continuous.tokenize(actions, mu_law=False, key="action")


def tokenize_action(spec: TimestepSpec, action: Any) -> np.ndarray:
    """Action -> int32 ids [prod(action_shape)] (discrete ids or continuous bins, no mu-law)."""
    return _action_ids(spec, action, 1)


def _action_block(spec: TimestepSpec, actions: Any, steps: int) -> TokenSequence:
    """The separator then the action tokens of each step: fields [steps, 1 + action_size, ...]."""
    ids = _action_ids(spec, actions, steps).reshape(steps, spec.action_size)
    block = {name: arr.reshape(steps, 1 + spec.action_size, *arr.shape[1:])
             for name, arr in sequence.empty(steps * (1 + spec.action_size)).items()}
    block["tokens"][:, 0] = SEPARATOR_ID
    block["tokens"][:, 1:] = ids
    block["modality"][:, 0] = Modality.SEPARATOR
    block["modality"][:, 1:] = (
        Modality.DISCRETE if spec.action_kind == "discrete" else Modality.CONTINUOUS)
    block["loss_mask"][:, 1:] = True
    block["is_action"][:, 1:] = True
    return block


def action_sequence(spec: TimestepSpec, action: Any) -> TokenSequence:
    """The separator token followed by the action tokens (loss and is_action on actions)."""
    return {name: arr[0] for name, arr in _action_block(spec, action, 1).items()}


def _check_returns(spec: TimestepSpec, values: Any, steps: int) -> np.ndarray | None:
    """The return-to-go values as float64 [steps], or None for a spec without return tokens."""
    if spec.returns is None:
        if values is not None:
            raise ValueError("return-to-go given, but the spec has no return tokens (returns=None)")
        return None
    if values is None:
        raise ValueError("the spec has return tokens: pass the return-to-go of each timestep")
    values = np.asarray(values, np.float64).reshape(-1)
    if values.size != steps:
        raise ValueError(f"return-to-go: {values.size} values for {steps} timesteps")
    return values


def return_sequence(spec: TimestepSpec, value: float) -> TokenSequence:
    """The one return-to-go token of a timestep (modality RETURN, a loss target)."""
    ids = returns.tokenize(_check_returns(spec, value, 1), spec.returns)
    return sequence.from_ids(ids, Modality.RETURN, loss=True)


def _layout(spec: TimestepSpec, observation: Any, returned: Any, action: Any) -> list:
    """Parts of one timestep (or blocks of T) in layout order: see the module docstring."""
    if returned is None:
        return [observation, action]
    if spec.returns.placement == "before_observation":
        return [returned, observation, action]
    return [observation, returned, action]


def tokenize_timestep(spec: TimestepSpec, observation: Mapping[str, Any], action: Any,
                      return_to_go: float | None = None) -> TokenSequence:
    """Observation tokens, separator, action tokens, and the return token when the spec has
    return tokens (`return_to_go`, reward units); see the module docstring for the layout."""
    _check_returns(spec, return_to_go, 1)
    returned = None if spec.returns is None else return_sequence(spec, return_to_go)
    return sequence.concat(_layout(spec, tokenize_observation(spec, observation), returned,
                                   action_sequence(spec, action)))


def tokenize_episode(spec: TimestepSpec, observations: Mapping[str, Any], actions: Any,
                     returns_to_go: Any = None) -> TokenSequence:
    """Timesteps in time order; observations: (nested) dict of [T, ...] leaves, actions [T, ...],
    returns_to_go [T] (reward units) when the spec has return tokens, else None.

    The result equals concatenating `tokenize_timestep` over t; without text keys every key is
    tokenized for all T steps at once (vectorized), which is what data pipelines call.
    """
    flat = flatten(observations)
    _check_keys(spec, flat)
    _check_stacked(spec, flat)
    actions = np.asarray(actions)
    steps = len(actions)
    for key, value in flat.items():
        if len(value) != steps:
            raise ValueError(f"observation {key!r}: {len(value)} steps, but actions have {steps}")
    values = _check_returns(spec, returns_to_go, steps)
    if steps == 0:
        return sequence.empty(0)
    if "text" in spec.observation.values():
        return sequence.concat([
            tokenize_timestep(spec, {k: v[t] for k, v in flat.items()}, actions[t],
                              None if values is None else values[t])
            for t in range(steps)
        ])
    obs_blocks = [_episode_block(spec.observation[k], _cells(spec, k, np.asarray(flat[k])), k)
                  for k in spec.observation_keys]
    obs = {name: np.concatenate([b[name] for b in obs_blocks], axis=1)
           for name in sequence.FIELDS}
    n_obs = obs["tokens"].shape[1]
    obs["local_pos"][:] = np.arange(n_obs, dtype=np.int32)
    returned = None
    if values is not None:
        returned = {name: arr[:, None] for name, arr in sequence.from_ids(
            returns.tokenize(values, spec.returns), Modality.RETURN, loss=True).items()}
    blocks = _layout(spec, obs, returned, _action_block(spec, actions, steps))
    stacked = {name: np.concatenate([b[name] for b in blocks], axis=1)
               for name in sequence.FIELDS}
    return {name: v.reshape(-1, *v.shape[2:]) for name, v in stacked.items()}


def _episode_block(kind: str, values: np.ndarray, key: str) -> TokenSequence:
    """One observation key over T steps: fields shaped [T, n, ...], no loss, local_pos unset."""
    steps = len(values)
    if kind == "image":
        patches, patch_pos = image.patchify_frames(values, key)
        block = {name: arr.reshape(steps, -1, *arr.shape[1:])
                 for name, arr in sequence.empty(steps * patches.shape[1]).items()}
        block["modality"][:] = Modality.IMAGE
        block["patches"][:] = patches
        block["patch_pos"][:] = patch_pos
        return block
    if kind == "discrete":
        ids, modality = discrete.tokenize(values, key=key), Modality.DISCRETE
    else:
        ids, modality = continuous.tokenize(values, mu_law=True, key=key), Modality.CONTINUOUS
    per_step = ids.size // steps
    return {name: arr.reshape(steps, per_step, *arr.shape[1:])
            for name, arr in _ids(ids, modality).items()}


def action_token_range(spec: TimestepSpec) -> tuple[int, int]:
    """Half-open range [lo, hi) of ids an action token can take."""
    if spec.action_kind == "discrete":
        return 0, int(spec.num_actions)
    return CONTINUOUS_OFFSET, CONTINUOUS_OFFSET + CONTINUOUS_BINS


def detokenize_action(spec: TimestepSpec, ids: Any) -> np.ndarray:
    """Action ids -> action of spec.action_shape: int32 (exact) or float32 (bin centre, clipped
    to spec.action_minimum/maximum)."""
    ids = np.asarray(ids).reshape(-1)
    if ids.size != spec.action_size:
        raise ValueError(f"action: expected {spec.action_size} ids for shape "
                         f"{spec.action_shape}, got {ids.size}")
    lo, hi = action_token_range(spec)
    if ids.size and (ids.min() < lo or ids.max() >= hi):
        raise ValueError(f"action ids must be in [{lo}, {hi}), got {ids}")
    if spec.action_kind == "discrete":
        return discrete.detokenize(ids, spec.action_shape)
    action = continuous.detokenize(ids, spec.action_shape, mu_law=False)
    low = -np.inf if spec.action_minimum is None else np.asarray(spec.action_minimum)
    high = np.inf if spec.action_maximum is None else np.asarray(spec.action_maximum)
    return np.clip(action, low, high).astype(np.float32)


def _observation_size(kind: str, shape: tuple[int, ...], key: str) -> int:
    if kind == "image":
        return (shape[0] // PATCH_SIZE) * (shape[1] // PATCH_SIZE)
    if kind == "text":
        raise ValueError(f"text observation {key!r} has no fixed number of tokens")
    return int(np.prod(shape, dtype=np.int64))


def tokens_per_timestep(spec: TimestepSpec, observation_shapes: Mapping[str, Any]) -> int:
    """Tokens in one timestep given each observation key path's shape (no text keys)."""
    flat = flatten(observation_shapes)
    _check_keys(spec, flat)
    n_obs = sum(_observation_size(spec.observation[k],
                                  tuple(flat[k])[:-1] if spec.radix(k) else tuple(flat[k]), k)
                for k in flat)
    return n_obs + (spec.returns is not None) + 1 + spec.action_size


def episode_tokens(spec: TimestepSpec, observations: Mapping[str, Any], steps: int) -> int:
    """Tokens `tokenize_episode` makes of the first `steps` timesteps of `observations`
    ((nested) dict of [T, ...] leaves, T >= steps), counted without laying them out: the fixed
    part of a timestep times `steps`, plus each step's text tokens (each distinct text encoded
    once). For specs with text keys, whose timesteps differ in length."""
    flat = flatten(observations)
    _check_keys(spec, flat)
    text = [k for k in flat if spec.observation[k] == "text"]
    fixed = dataclasses.replace(spec, observation={
        k: kind for k, kind in spec.observation.items() if kind != "text"})
    total = steps * tokens_per_timestep(fixed, {k: np.shape(v)[1:] for k, v in flat.items()
                                                if k not in text})
    lengths: dict[Any, int] = {}
    for key in text:
        for value in list(flat[key])[:steps]:
            value = value.item() if isinstance(value, np.ndarray) else value
            if value not in lengths:
                lengths[value] = len(_text(value, key)["tokens"])
            total += lengths[value]
    return total
