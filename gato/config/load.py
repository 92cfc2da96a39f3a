"""Experiment configs: Python files `experiments/NAME.py` with `get_config(arg) -> ConfigDict`.

`load_config("experiments/NAME.py:variant")` imports the file by path (it is not a package
module) and passes the text after the colon to `get_config`, which reads it with
`parse_variant(arg, VARIANTS)`: a key the experiment does not declare, or a value of the wrong
type, is a ConfigError. The file starts from `gato.config.defaults.default_config()`; what it
returns is checked against the defaults (a key they do not have is a ConfigError naming it) and
completed with them, so every loaded config has every section and key.
`apply_overrides(config, ["train.batch_size=8", ...])` sets dotted keys; values are parsed as
Python literals when they can be (8, 1e-4, True, [("data", -1)]) and kept as strings otherwise.
`run_config(dict)` reads a run's saved config.json back as the same structure. Ranges are checked
by `gato.train.validate.validate_config`, before any work starts.
"""

import ast
import difflib
import importlib.resources
import importlib.util
import logging
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import ml_collections

from gato.config import defaults
from gato.errors import ConfigError


def packaged_configs() -> list[str]:
    """Names of the experiment configs shipped with the package (the repo's experiments/)."""
    try:
        folder = importlib.resources.files("gato.experiments")
    except ModuleNotFoundError:
        return []
    return sorted(f.name for f in folder.iterdir() if f.name.endswith(".py")
                  and not f.name.startswith("_"))


def config_path(path_text: str) -> pathlib.Path:
    """A config file by path, else a packaged config by name ("gato_cpu" or "gato_cpu.py")."""
    path = pathlib.Path(path_text)
    if path.is_file():
        return path
    name = path_text if path_text.endswith(".py") else f"{path_text}.py"
    if "/" not in path_text and name in packaged_configs():
        return pathlib.Path(str(importlib.resources.files("gato.experiments") / name))
    raise FileNotFoundError(f"config file {path_text!r} not found (packaged configs: "
                            f"{', '.join(packaged_configs()) or 'none'})")


def load_config(spec: str) -> ml_collections.ConfigDict:
    """Loads `path.py[:arg]` (or a packaged config by name); raises FileNotFoundError /
    ValueError naming the file."""
    path_text, _, arg = spec.partition(":")
    path = config_path(path_text)
    module_spec = importlib.util.spec_from_file_location(f"gato_experiment_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ValueError(f"config file {path_text!r} defines no get_config(arg)")
    config = module.get_config(arg or None)
    if not isinstance(config, ml_collections.ConfigDict):
        raise ValueError(f"{path_text}: get_config returned {type(config).__name__}, "
                         "expected ml_collections.ConfigDict")
    unknown = unknown_keys(config)
    if unknown:
        raise ConfigError(f"{path}: {_unknown_message(unknown[0])}")
    return complete(config)


def _walk(node: Any, prefix: str = "") -> list[str]:
    """Dotted keys of `node`, stopping at open fields (their keys are the experiment's)."""
    keys = []
    for name, value in node.items():
        key = prefix + name
        keys.append(key)
        if key not in defaults.OPEN_KEYS and isinstance(value, Mapping | ml_collections.ConfigDict):
            keys.extend(_walk(value, key + "."))
    return keys


def unknown_keys(config: Any) -> list[str]:
    """Dotted keys of `config` that the defaults do not have (outside open fields), in order."""
    known = set(defaults.RULES) | {k for key in defaults.RULES for k in _parents(key)}
    return [key for key in _walk(config) if key not in known]


def _parents(key: str) -> list[str]:
    parts = key.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _unknown_message(key: str) -> str:
    close = difflib.get_close_matches(key, list(defaults.RULES), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"config key {key} is not a known key{hint}; the keys are in gato/config/defaults.py"


def complete(config: Any) -> ml_collections.ConfigDict:
    """The defaults, updated by `config` (a ConfigDict or a plain dict) section by section."""
    out = defaults.default_config()
    _merge(out, config.to_dict() if hasattr(config, "to_dict") else dict(config), "")
    return out


def _merge(into: ml_collections.ConfigDict, values: Mapping, prefix: str) -> None:
    for name, value in values.items():
        key = prefix + name
        if key in defaults.OPEN_KEYS:
            into[name] = ml_collections.ConfigDict(dict(value or {}))
        elif isinstance(value, Mapping) and isinstance(into.get(name), ml_collections.ConfigDict):
            _merge(into[name], value, key + ".")
        else:
            try:
                into[name] = value
            except TypeError as e:
                raise ConfigError(f"config key {key}: {e}") from None


def run_config(saved: Mapping) -> ml_collections.ConfigDict:
    """A run's saved config (config.json's dict) as a full config: the defaults, updated by the
    saved keys. Keys this version no longer has (an older run) are dropped with a warning."""
    unknown = unknown_keys(saved)
    if unknown:
        logging.warning("the run's config has keys this version does not know, ignored: %s",
                        ", ".join(unknown[:8]))
        saved = _without(saved, set(unknown))
    saved = _lists_as_saved(saved)
    if "model" in saved:  # the model as saved: no default overrides added to an older run's
        saved["model"] = {"overrides": {}, **saved["model"]}
    return complete(saved)


def _without(node: Mapping, drop: set[str], prefix: str = "") -> dict:
    out = {}
    for name, value in node.items():
        key = prefix + name
        if key in drop:
            continue
        if isinstance(value, Mapping) and key not in defaults.OPEN_KEYS:
            value = _without(value, drop, key + ".")
        out[name] = value
    return out


def _lists_as_saved(node: Mapping) -> dict:
    """JSON turns tuples into lists; ConfigDict refuses a list where a tuple default was."""
    out = {}
    for name, value in node.items():
        if isinstance(value, Mapping):
            value = _lists_as_saved(value)
        elif isinstance(value, list) and all(isinstance(v, list) for v in value):
            value = [tuple(v) for v in value]
        out[name] = value
    return out


def parse_value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def apply_overrides(config: ml_collections.ConfigDict,
                    overrides: Sequence[str]) -> ml_collections.ConfigDict:
    """Sets each `dotted.key=value` on `config` (in place) and returns it."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not of the form key=value")
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            if part not in node:
                raise ConfigError(f"override {item!r}: {_unknown_message(key)}")
            node = node[part]
        if leaf not in node and key.rpartition(".")[0] not in defaults.OPEN_KEYS:
            raise ConfigError(f"override {item!r}: {_unknown_message(key)}")
        value = parse_value(text)
        try:
            node[leaf] = value
        except TypeError as e:
            raise ConfigError(f"override {item!r}: {key} holds {type(node[leaf]).__name__} "
                              f"values, got {type(value).__name__} {value!r}") from e
    return config


def _of_type(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def parse_variant(arg: str | None, known: Mapping[str, type]) -> dict[str, Any]:
    """Variant string "batch=8,local" -> {"batch": 8, "local": True}.

    `known` maps each variant key the experiment reads to its type (a bare key is True, so flags
    are `bool`). Raises ConfigError for an unknown key (a typo would otherwise be ignored) or a
    value of another type.
    """
    out: dict[str, Any] = {}
    for part in filter(None, (arg or "").split(",")):
        key, sep, text = part.partition("=")
        key = key.strip()
        if key not in known:
            raise ConfigError(f"unknown variant key {key!r} in {arg!r}; this experiment takes: "
                              + ", ".join(f"{k} ({t.__name__})" for k, t in known.items()))
        value = parse_value(text.strip()) if sep else True
        if not _of_type(value, known[key]):
            raise ConfigError(f"variant {part.strip()!r}: {key} takes a {known[key].__name__}, "
                              f"got {value!r}")
        out[key] = value
    return out
