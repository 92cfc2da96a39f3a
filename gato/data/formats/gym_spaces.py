"""gymnasium spaces -> the tokenizers' TimestepSpec (what `gato.data.formats.minari` reads).

Observation (a Dict is flattened to "/"-joined key paths, as the tokenizers take them; any other
space is the single key "observation"):
  Box uint8 [H, W, 1 or 3] with sides multiples of 16 -> "image"; Box of floats -> "continuous";
  Box of ints in [0, 1024) -> "discrete", other ints -> "continuous"; Discrete(n, start) and
  MultiDiscrete(nvec, start) -> "discrete" (values minus start) when n <= 1024, else
  "continuous"; MultiBinary -> "discrete"; Text -> "text".
Action: Discrete / MultiDiscrete (at most 1024 values, minus start) or a Box of ints in
  [0, 1024) -> discrete; a Box of floats -> continuous with the Box's bounds (None where
  infinite). Tuple spaces, and Dict or Text actions, raise ValueError naming the space.
"""

from typing import Any

import numpy as np
from gymnasium import spaces

from gato.tokenizers.spec import TimestepSpec
from gato.tokenizers.vocab import PATCH_SIZE

MAX_DISCRETE = 1024  # discrete ids are [0, 1024)


def observation_leaves(space: Any, path: str = "") -> dict[str, tuple[str, Any]]:
    """Observation key path -> (kind, offset subtracted from discrete values: the space's
    start, per element for a MultiDiscrete)."""
    if isinstance(space, spaces.Dict):
        out: dict[str, tuple[str, Any]] = {}
        for key, sub in space.spaces.items():
            out.update(observation_leaves(sub, f"{path}/{key}" if path else str(key)))
        return out
    key = path or "observation"
    if isinstance(space, spaces.Text):
        return {key: ("text", 0)}
    if isinstance(space, spaces.MultiBinary):
        return {key: ("discrete", 0)}
    if isinstance(space, spaces.Discrete | spaces.MultiDiscrete):
        size = int(np.max(space.n if isinstance(space, spaces.Discrete) else space.nvec))
        start = np.asarray(space.start, np.int64)
        return {key: ("discrete", start) if size <= MAX_DISCRETE else ("continuous", 0)}
    if isinstance(space, spaces.Box):
        shape, dtype = space.shape, np.dtype(space.dtype)
        if (dtype == np.uint8 and len(shape) == 3 and shape[-1] in (1, 3)
                and shape[0] % PATCH_SIZE == 0 and shape[1] % PATCH_SIZE == 0):
            return {key: ("image", 0)}
        if dtype.kind in ("i", "u") and _in_ids(space):
            return {key: ("discrete", 0)}
        return {key: ("continuous", 0)}
    raise ValueError(f"observation {key!r}: gymnasium space {type(space).__name__} is not "
                     "supported (Box, Discrete, MultiDiscrete, MultiBinary, Text, Dict)")


def _in_ids(box: Any) -> bool:
    return bool(np.all(box.low >= 0) and np.all(box.high < MAX_DISCRETE))


def _bound(values: np.ndarray) -> float | tuple[float, ...] | None:
    values = np.asarray(values, np.float64).reshape(-1)
    if not np.all(np.isfinite(values)):
        return None
    return float(values[0]) if np.all(values == values[0]) else tuple(map(float, values))


def action_fields(space: Any) -> tuple[dict[str, Any], Any]:
    """TimestepSpec action fields of a gymnasium action space, and the discrete offset."""
    if isinstance(space, spaces.Discrete | spaces.MultiDiscrete):
        size = int(np.max(space.n if isinstance(space, spaces.Discrete) else space.nvec))
        if size > MAX_DISCRETE:
            raise ValueError(f"action space {space} has {size} values, more than {MAX_DISCRETE}")
        return ({"action_kind": "discrete", "action_shape": tuple(np.shape(space.sample())),
                 "num_actions": size}, np.asarray(space.start, np.int64))
    if isinstance(space, spaces.Box) and np.dtype(space.dtype).kind in ("i", "u"):
        if not _in_ids(space):
            raise ValueError(f"integer action Box {space} is not within [0, {MAX_DISCRETE})")
        return ({"action_kind": "discrete", "action_shape": space.shape,
                 "num_actions": int(np.max(space.high)) + 1}, 0)
    if isinstance(space, spaces.Box):
        return ({"action_kind": "continuous", "action_shape": space.shape,
                 "action_minimum": _bound(space.low), "action_maximum": _bound(space.high)}, 0)
    raise ValueError(f"action space {type(space).__name__} is not supported (Box, Discrete, "
                     "MultiDiscrete)")


def timestep_spec(observation_space: Any, action_space: Any) -> TimestepSpec:
    """The TimestepSpec of a gymnasium observation and action space (see the module docstring)."""
    leaves = observation_leaves(observation_space)
    fields, _ = action_fields(action_space)
    return TimestepSpec(observation={k: kind for k, (kind, _) in leaves.items()}, **fields)


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """A (nested dict) observation -> {\"/\"-joined key path: leaf}, as `observation_leaves`."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, sub in value.items():
            out.update(flatten(sub, f"{path}/{key}" if path else str(key)))
        return out
    return {path or "observation": value}
